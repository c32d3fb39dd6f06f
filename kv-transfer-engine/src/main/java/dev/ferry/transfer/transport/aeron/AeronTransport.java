package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.Opcode;
import dev.ferry.transfer.TransferException;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.MalformedFrameException;
import dev.ferry.transfer.transport.frame.RangeCheck;
import dev.ferry.transfer.transport.frame.SliceFrame;
import dev.ferry.transfer.transport.tcp.NotificationListener;
import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.Header;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The Aeron UDP transport of one engine. It launches an embedded media driver (SHARED
 * threading, its own directory), subscribes on {@code aeron:udp?endpoint=HOST:PORT}, and
 * polls that subscription on one thread ({@code ferry-aeron-poll}) for requests (served
 * against this node's segments, answered on a publication to the sender's endpoint) and for
 * answers (matched to the slices this engine sent).
 *
 * <p>A message is {@code [i32 reply-endpoint length][reply endpoint, ASCII][slice frame]}
 * (the frame as in {@link SliceFrame}, length field included); answers carry no reply
 * endpoint. Slices must fit one Aeron message (an eighth of the term length: 2 MiB with
 * the default 16 MiB terms; slices are at most 1 MiB).
 *
 * <p>Thread-safe. Owns the driver, the client and the poller: close it.
 */
public final class AeronTransport implements AutoCloseable {
    private static final int STREAM_ID = 1001;
    /** Socket buffers and receiver window, bytes (8 MiB). */
    private static final int SOCKET_BUFFER = 8 << 20;
    /** Channel parameters of every publication: the largest MTU Aeron takes. */
    private static final String PUBLICATION_PARAMS = "|mtu=65504";
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final LocalSegments segments;
    private final SliceListener listener;
    private final NotificationListener notifications;
    private final MediaDriver driver;
    private final Aeron aeron;
    private final Subscription subscription;
    private final Endpoint localEndpoint;
    private final byte[] replyTo;
    private final long offerTimeoutNanos;
    private final Map<String, Publication> answers = new ConcurrentHashMap<>();
    private final Map<List<Endpoint>, List<AeronLink>> peers = new ConcurrentHashMap<>();
    private final Map<Long, Object[]> outstanding = new ConcurrentHashMap<>();
    private final Thread poller;
    private final CRC32C pollCrc = new CRC32C();
    private volatile boolean running = true;

    /**
     * @param bindHost         address of the subscription (and of this node's replies)
     * @param offerTimeoutMillis longest wait on a back-pressured publication before a slice fails, ms
     * @throws IllegalStateException if the media driver or the subscription cannot start
     */
    public AeronTransport(LocalSegments segments, SliceListener listener, NotificationListener notifications,
                          String bindHost, long offerTimeoutMillis) {
        this.segments = segments;
        this.listener = listener;
        this.notifications = notifications;
        this.offerTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(offerTimeoutMillis);
        String dir = CommonContext.getAeronDirectoryName() + "-ferry-" + ProcessHandle.current().pid() + "-"
                + INSTANCES.incrementAndGet();
        // Settings measured on this project's machine: SHARED threading, 64 KiB MTU and 8 MiB
        // socket buffers and receiver window reached about 1.2 GB/s over UDP loopback where the
        // defaults gave 0.13 GB/s (the buffers need net.core.rmem_max/wmem_max raised to match).
        this.driver = MediaDriver.launchEmbedded(new MediaDriver.Context().aeronDirectoryName(dir)
                .threadingMode(ThreadingMode.SHARED).dirDeleteOnStart(true).dirDeleteOnShutdown(true)
                .warnIfDirectoryExists(false).socketRcvbufLength(SOCKET_BUFFER).socketSndbufLength(SOCKET_BUFFER)
                .initialWindowLength(SOCKET_BUFFER));
        try {
            this.aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            this.localEndpoint = new Endpoint(bindHost, freeUdpPort(bindHost));
            this.subscription = aeron.addSubscription("aeron:udp?endpoint=" + localEndpoint, STREAM_ID);
        } catch (RuntimeException e) {
            driver.close();
            throw new IllegalStateException("cannot start the Aeron transport on " + bindHost + ": " + e.getMessage(), e);
        }
        this.replyTo = localEndpoint.toString().getBytes(StandardCharsets.US_ASCII);
        this.poller = Thread.ofPlatform().name("ferry-aeron-poll").daemon().start(this::poll);
    }

    private static int freeUdpPort(String host) {
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(host, 0))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free UDP port on " + host, e);
        }
    }

    /** Where peers send to this engine. */
    public Endpoint localEndpoint() {
        return localEndpoint;
    }

    /**
     * The links to a peer's Aeron endpoints (one publication each), made on first use; waits
     * up to {@code connectMillis} for them to connect. Must not run on the poller.
     */
    public List<AeronLink> links(List<Endpoint> endpoints, long connectMillis) {
        return peers.computeIfAbsent(List.copyOf(endpoints), list -> {
            List<AeronLink> links = list.stream().map(e -> new AeronLink(this, e.toString(),
                    aeron.addPublication("aeron:udp?endpoint=" + e + PUBLICATION_PARAMS, STREAM_ID))).toList();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(connectMillis);
            while (links.stream().anyMatch(l -> !l.publication.isConnected()) && System.nanoTime() < deadline) {
                Thread.onSpinWait();
                Thread.yield();
            }
            return links;
        });
    }

    /** Whether every link to the peer is down (used to fail over to another transport). */
    public boolean reconnect(List<Endpoint> endpoints) {
        List<AeronLink> links = peers.get(List.copyOf(endpoints));
        if (links == null) {
            return false;
        }
        boolean up = false;
        for (AeronLink link : links) {
            link.down = false;
            up |= link.isUp();
        }
        return up;
    }

    void send(AeronLink link, Slice slice) {
        byte type = switch (slice.opcode()) {
            case WRITE -> SliceFrame.WRITE;
            case READ -> SliceFrame.READ;
            case NOTIFY -> SliceFrame.NOTIFY;
        };
        boolean carries = slice.opcode() != Opcode.READ;
        UnsafeBuffer payload = carries ? new UnsafeBuffer(slice.localBytes().asByteBuffer()) : null;
        int crc = carries ? SliceFrame.crc(new CRC32C(), slice.localBytes().asByteBuffer()) : 0;
        ByteBuf header = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, type, slice.id(), slice.targetOffset(),
                slice.length(), crc, SliceFrame.Status.OK, SliceFrame.name(slice.target()));
        UnsafeBuffer head = message(replyTo, header);
        outstanding.put(slice.id(), new Object[] {link, slice});
        link.inFlight.addAndGet(slice.length());
        slice.markSent(System.nanoTime());
        String failure = offer(link.publication, head, payload, false);
        if (failure != null) {
            Object[] pending = outstanding.remove(slice.id());
            if (pending != null) {
                link.inFlight.addAndGet(-slice.length());
                link.estimator.onFailed();
                link.down = true;
                listener.onFailed(slice, link, new TransferException(link.name + ": " + failure, true));
            }
        }
    }

    private static UnsafeBuffer message(byte[] replyTo, ByteBuf frame) {
        byte[] bytes = new byte[4 + replyTo.length + frame.readableBytes()];
        UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        buffer.putInt(0, replyTo.length);
        buffer.putBytes(4, replyTo);
        frame.getBytes(frame.readerIndex(), bytes, 4 + replyTo.length, frame.readableBytes());
        frame.release();
        return buffer;
    }

    /**
     * Offers until accepted; returns why it failed, or null.
     *
     * @param awaitConnect whether a publication not connected yet (the first answer to a new
     *                     peer) is waited for, like back pressure, rather than failed at once
     */
    private String offer(Publication publication, UnsafeBuffer head, UnsafeBuffer payload, boolean awaitConnect) {
        long deadline = System.nanoTime() + offerTimeoutNanos;
        while (true) {
            long result = payload == null ? publication.offer(head, 0, head.capacity())
                    : publication.offer(head, 0, head.capacity(), payload, 0, payload.capacity(), null);
            if (result > 0) {
                return null;
            }
            if ((result == Publication.NOT_CONNECTED && !awaitConnect) || result == Publication.CLOSED
                    || result == Publication.MAX_POSITION_EXCEEDED) {
                return "publication not connected (" + result + ")";
            }
            if (System.nanoTime() > deadline) {
                return "back-pressured for longer than " + TimeUnit.NANOSECONDS.toMillis(offerTimeoutNanos) + " ms";
            }
            Thread.onSpinWait();
        }
    }

    private void poll() {
        FragmentAssembler assembler = new FragmentAssembler(this::onMessage);
        IdleStrategy idle = new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1),
                TimeUnit.MILLISECONDS.toNanos(1));
        while (running) {
            try {
                idle.idle(subscription.poll(assembler, 64));
            } catch (RuntimeException e) {
                if (!running) {
                    return;
                }
            }
        }
    }

    private void onMessage(DirectBuffer buffer, int offset, int length, Header aeronHeader) {
        if (length < 4) {
            return;
        }
        int replyLength = buffer.getInt(offset);
        if (replyLength < 0 || replyLength > 256 || length < 4 + replyLength + 4 + SliceFrame.HEADER_BYTES) {
            return; // not ours, or cut short: dropped
        }
        String reply = replyLength == 0 ? null : buffer.getStringWithoutLengthAscii(offset + 4, replyLength);
        int frameAt = offset + 4 + replyLength;
        int frameLength = length - 4 - replyLength - 4;
        int headLength = Math.min(frameLength, SliceFrame.HEADER_BYTES + SliceFrame.MAX_NAME_BYTES);
        byte[] headBytes = new byte[headLength];
        buffer.getBytes(frameAt + 4, headBytes);
        FrameHeader header = new FrameHeader();
        try {
            header.wrap(Unpooled.wrappedBuffer(headBytes), frameLength);
        } catch (MalformedFrameException e) {
            return;
        }
        int bodyAt = frameAt + 4 + SliceFrame.HEADER_BYTES + header.nameLength();
        if (reply != null) {
            serve(reply, header, buffer, bodyAt);
        } else {
            answer(header, buffer, bodyAt);
        }
    }

    private void serve(String reply, FrameHeader header, DirectBuffer buffer, int bodyAt) {
        byte type = header.type();
        int length = header.bodyLength();
        ByteBuf answer;
        UnsafeBuffer payload = null;
        if (type == SliceFrame.NOTIFY) {
            byte[] message = new byte[length];
            buffer.getBytes(bodyAt, message);
            notifications.onNotification(header.name(), message);
            answer = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, SliceFrame.NOTIFY_ACK, header.sliceId(), 0, 0,
                    0, SliceFrame.Status.OK, null);
        } else {
            long offset = header.offset();
            RangeCheck.Refusal refusal = RangeCheck.refusal(segments, header.name(), offset, length);
            MemorySegment target = refusal == null ? segments.find(header.name()) : null;
            if (refusal != null) {
                answer = SliceFrame.error(UnpooledByteBufAllocator.DEFAULT, type, header.sliceId(), offset,
                        refusal.status(), refusal.message());
            } else if (type == SliceFrame.WRITE) {
                buffer.getBytes(bodyAt, target.asSlice(offset, length).asByteBuffer(), length);
                answer = SliceFrame.crc(pollCrc, target.asSlice(offset, length).asByteBuffer()) == header.crc()
                        ? SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, SliceFrame.WRITE_ACK, header.sliceId(),
                                offset, 0, 0, SliceFrame.Status.OK, null)
                        : SliceFrame.error(UnpooledByteBufAllocator.DEFAULT, type, header.sliceId(), offset,
                                SliceFrame.Status.CRC_MISMATCH, "payload CRC32C mismatch");
            } else {
                ByteBuffer bytes = target.asSlice(offset, length).asByteBuffer();
                answer = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, SliceFrame.READ_DATA, header.sliceId(),
                        offset, length, SliceFrame.crc(pollCrc, bytes), SliceFrame.Status.OK, null);
                payload = new UnsafeBuffer(bytes);
            }
        }
        Publication publication = answers.computeIfAbsent(reply,
                r -> aeron.addPublication("aeron:udp?endpoint=" + r + PUBLICATION_PARAMS, STREAM_ID));
        // An answer that cannot go out is dropped; the initiator's link then stalls and resends elsewhere.
        offer(publication, message(new byte[0], answer), payload, true);
    }

    private void answer(FrameHeader header, DirectBuffer buffer, int bodyAt) {
        Object[] pending = outstanding.remove(header.sliceId());
        if (pending == null) {
            return;
        }
        AeronLink link = (AeronLink) pending[0];
        Slice slice = (Slice) pending[1];
        link.inFlight.addAndGet(-slice.length());
        SliceFrame.Status status = header.status();
        if (status != SliceFrame.Status.OK) {
            byte[] text = new byte[Math.max(0, header.bodyLength())];
            buffer.getBytes(bodyAt, text);
            link.estimator.onFailed();
            listener.onFailed(slice, link, new TransferException(status + " from " + link.endpoint + ": "
                    + new String(text, StandardCharsets.UTF_8), status.retryable()));
            return;
        }
        if (header.type() == SliceFrame.READ_DATA) {
            if (header.bodyLength() != slice.length()) {
                listener.onFailed(slice, link, new TransferException("READ answer of the wrong length", true));
                return;
            }
            buffer.getBytes(bodyAt, slice.localBytes().asByteBuffer(), slice.length());
            if (SliceFrame.crc(pollCrc, slice.localBytes().asByteBuffer()) != header.crc()) {
                link.estimator.onFailed();
                listener.onFailed(slice, link, new TransferException("READ payload failed its CRC32C", true));
                return;
            }
        }
        link.estimator.onCompleted(slice.length(), slice.sentNanos(), System.nanoTime());
        listener.onCompleted(slice, link);
    }

    /** Fails every slice outstanding on {@code link} for longer than {@code stallNanos}, marking it down. */
    public void checkStalls(long stallNanos) {
        long now = System.nanoTime();
        for (Map.Entry<Long, Object[]> e : outstanding.entrySet()) {
            AeronLink link = (AeronLink) e.getValue()[0];
            Slice slice = (Slice) e.getValue()[1];
            if (now - slice.sentNanos() > stallNanos && outstanding.remove(e.getKey()) != null) {
                link.inFlight.addAndGet(-slice.length());
                link.estimator.onFailed();
                listener.onFailed(slice, link, new TransferException(link.name + " gave no answer for "
                        + TimeUnit.NANOSECONDS.toMillis(stallNanos) + " ms", true));
            }
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            poller.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        aeron.close();
        driver.close();
    }

}
