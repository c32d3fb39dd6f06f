package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.segment.Endpoint;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Test-scope UDP relay between two Aeron media drivers on loopback that can delay one Aeron
 * session and then deliver it: a link whose datagrams are held in the network while the
 * initiator gives up on it. Initiators send to {@link #endpoint()}; the relay sends on to the
 * target from a socket of its own, and relays what the target's driver sends back (status
 * messages, NAKs) to the initiator that sent last.
 *
 * <p>{@link #holdNextData()} holds the session of the next data frame that carries a payload:
 * from that frame on, every initiator-to-target datagram of that session (data, heartbeats,
 * setup, RTT measurement) is kept here, in order, while other sessions pass; {@link #release()}
 * delivers them and lets the session pass again. The Aeron frame layout read here (little-endian
 * type at 6, session id at 12, or at 8 for RTT measurements) is Aeron's
 * {@code DataHeaderFlyweight}.
 *
 * <p>Thread-safe. Owns two sockets and two threads: close it.
 */
final class DelayingUdpProxy implements AutoCloseable {
    private static final short PAD = 0;
    private static final short DATA = 1;
    private static final short SETUP = 5;
    private static final short RTTM = 6;
    private static final int DATA_HEADER = 32;

    private final InetSocketAddress target;
    private final DatagramChannel front;
    private final DatagramChannel back;
    private final Thread forward;
    private final Thread backward;
    private volatile SocketAddress initiator;
    private boolean holdNext;
    private int heldSession;
    private boolean holding;
    private final List<ByteBuffer> held = new ArrayList<>();
    private long heldBytes;
    private boolean delivered;

    DelayingUdpProxy(Endpoint target) throws IOException {
        this.target = new InetSocketAddress(target.host(), target.port());
        this.front = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        this.back = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        this.forward = Thread.ofPlatform().daemon().name("udp-proxy-forward").start(this::forward);
        this.backward = Thread.ofPlatform().daemon().name("udp-proxy-backward").start(this::backward);
    }

    /** Where initiators send. */
    Endpoint endpoint() {
        try {
            return new Endpoint("127.0.0.1", ((InetSocketAddress) front.getLocalAddress()).getPort());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Holds the session of the next data frame with a payload, from that frame on. */
    synchronized void holdNextData() {
        holdNext = true;
    }

    /** Payload bytes of data frames held so far. */
    synchronized long heldBytes() {
        return heldBytes;
    }

    /** Whether {@link #release()} has delivered every datagram held. */
    synchronized boolean heldDelivered() {
        return delivered;
    }

    /** Delivers the held datagrams to the target in order; the session passes from then on. */
    synchronized void release() throws IOException {
        for (ByteBuffer datagram : held) {
            back.send(datagram, target);
        }
        held.clear();
        holding = false;
        delivered = true;
    }

    private void forward() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 16);
        try {
            while (true) {
                buffer.clear();
                SocketAddress from = front.receive(buffer);
                initiator = from;
                buffer.flip();
                synchronized (this) {
                    if (hold(buffer)) {
                        ByteBuffer copy = ByteBuffer.allocate(buffer.remaining()).put(buffer).flip();
                        held.add(copy);
                        continue;
                    }
                    back.send(buffer, target);
                }
            }
        } catch (ClosedChannelException e) {
            // closed
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether the datagram is of the held session (and starts holding it if asked to). */
    private boolean hold(ByteBuffer datagram) {
        if (datagram.remaining() < DATA_HEADER - 8) {
            return false;
        }
        ByteBuffer le = datagram.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = datagram.position();
        short type = le.getShort(at + 6);
        int session;
        if (type == DATA || type == PAD || type == SETUP) {
            session = le.getInt(at + 12);
        } else if (type == RTTM) {
            session = le.getInt(at + 8);
        } else {
            return false;
        }
        if (holdNext && type == DATA && le.getInt(at) > DATA_HEADER) {
            holdNext = false;
            holding = true;
            heldSession = session;
        }
        if (holding && session == heldSession) {
            if (type == DATA) {
                heldBytes += Math.max(0, le.getInt(at) - DATA_HEADER);
            }
            return true;
        }
        return false;
    }

    private void backward() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 16);
        try {
            while (true) {
                buffer.clear();
                back.receive(buffer);
                buffer.flip();
                SocketAddress to = initiator;
                if (to != null) {
                    front.send(buffer, to);
                }
            }
        } catch (ClosedChannelException e) {
            // closed
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            front.close();
        } finally {
            back.close();
        }
    }
}
