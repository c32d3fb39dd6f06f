package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.segment.Endpoint;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Test-scope TCP proxy on real loopback sockets that can delay one connection and then
 * deliver it: a link whose bytes are held in the network while the initiator gives up on it.
 * Each accepted connection is relayed to the target over a connection of its own. One
 * connection may be held, from its first byte ({@link #holdConnection}) or from the next
 * bytes any connection sends ({@link #holdNextBytes}): its initiator-to-target bytes are kept
 * here, and its initiator's close is not passed on, until {@link #release()}, which delivers
 * them, then closes the proxy's connection to the target.
 *
 * <p>Thread-safe. Owns a server socket and threads: close it.
 */
final class DelayingTcpProxy implements AutoCloseable {
    private final Endpoint target;
    private final ServerSocket server;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final List<Relay> relays = new CopyOnWriteArrayList<>();
    private final CountDownLatch released = new CountDownLatch(1);
    private int holdIndex = -1;
    private boolean holdNext;
    private Relay held;

    DelayingTcpProxy(Endpoint target) throws IOException {
        this.target = target;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.execute(this::accept);
    }

    /** Where initiators connect. */
    Endpoint endpoint() {
        return new Endpoint("127.0.0.1", server.getLocalPort());
    }

    /** Holds the {@code index}-th connection accepted (0 the first) from its first byte. */
    synchronized void holdConnection(int index) {
        holdIndex = index;
    }

    /** Holds the connection that sends bytes next, from those bytes on. */
    synchronized void holdNextBytes() {
        holdNext = true;
    }

    /** Bytes held so far. */
    synchronized long heldBytes() {
        return held == null ? 0 : held.kept.size();
    }

    /** Whether the initiator closed the held connection (it gave up on the link). */
    synchronized boolean heldInitiatorClosed() {
        return held != null && held.initiatorClosed;
    }

    /** Whether the target closed (or reset) its end of the held connection. */
    synchronized boolean heldTargetClosed() {
        return held != null && held.targetClosed.getCount() == 0;
    }

    /** Whether every held byte was handed to the target's connection (or the target refused them). */
    synchronized boolean heldDelivered() {
        return held != null && held.delivered;
    }

    /** Delivers the held bytes to the target, then closes the held connection's target end. */
    void release() {
        released.countDown();
    }

    private void accept() {
        try {
            for (int index = 0; ; index++) {
                Socket initiator = server.accept();
                Socket toTarget = new Socket(target.host(), target.port());
                Relay relay = new Relay(initiator, toTarget);
                synchronized (this) {
                    if (index == holdIndex) {
                        relay.holding = true;
                        held = relay;
                    }
                }
                relays.add(relay);
                threads.execute(relay::up);
                threads.execute(relay::down);
            }
        } catch (IOException e) {
            // closed
        }
    }

    @Override
    public void close() throws IOException {
        released.countDown();
        server.close();
        for (Relay relay : relays) {
            relay.close();
        }
        threads.shutdownNow();
    }

    /** One relayed connection. */
    private final class Relay {
        final Socket initiator;
        final Socket toTarget;
        final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        final CountDownLatch targetClosed = new CountDownLatch(1);
        boolean holding;
        boolean initiatorClosed;
        boolean delivered;

        Relay(Socket initiator, Socket toTarget) {
            this.initiator = initiator;
            this.toTarget = toTarget;
        }

        /** Initiator to target, holding when told to. */
        void up() {
            byte[] buf = new byte[64 * 1024];
            try {
                InputStream in = initiator.getInputStream();
                OutputStream out = toTarget.getOutputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    synchronized (DelayingTcpProxy.this) {
                        if (!holding && holdNext && held == null) {
                            holding = true;
                            holdNext = false;
                            held = this;
                        }
                        if (holding) {
                            kept.write(buf, 0, n);
                            continue;
                        }
                    }
                    out.write(buf, 0, n);
                }
            } catch (IOException e) {
                // the initiator's end is gone
            }
            synchronized (DelayingTcpProxy.this) {
                initiatorClosed = true;
            }
            try {
                if (holding) {
                    released.await();
                    byte[] late;
                    synchronized (DelayingTcpProxy.this) {
                        late = kept.toByteArray();
                    }
                    try {
                        toTarget.getOutputStream().write(late);
                    } catch (IOException e) {
                        // the target closed this connection: the bytes are refused
                    }
                    synchronized (DelayingTcpProxy.this) {
                        delivered = true;
                    }
                }
                toTarget.shutdownOutput();
            } catch (IOException | InterruptedException e) {
                // closing
            }
        }

        /** Target to initiator; notes when the target closes its end. */
        void down() {
            byte[] buf = new byte[64 * 1024];
            try {
                InputStream in = toTarget.getInputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    try {
                        initiator.getOutputStream().write(buf, 0, n);
                    } catch (IOException e) {
                        // the initiator is gone: keep reading until the target closes
                    }
                }
            } catch (IOException e) {
                // reset by the target
            } finally {
                targetClosed.countDown();
                try {
                    initiator.close();
                } catch (IOException e) {
                    // already closed
                }
            }
        }

        void close() {
            try {
                initiator.close();
            } catch (IOException e) {
                // already closed
            }
            try {
                toTarget.close();
            } catch (IOException e) {
                // already closed
            }
        }
    }
}
