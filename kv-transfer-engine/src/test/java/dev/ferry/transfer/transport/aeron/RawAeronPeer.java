package dev.ferry.transfer.transport.aeron;

import static org.awaitility.Awaitility.await;

import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A bare Aeron peer for tests of the transport's wire handling: its own media driver, a
 * subscription on a free UDP port of loopback, and raw messages in the transport's format
 * ({@code [i32 reply length][reply endpoint][slice frame]}), so a test can send what the
 * engine never would (a wrong CRC32C) or receive requests and never answer them.
 */
final class RawAeronPeer implements AutoCloseable {
    private static final int STREAM_ID = 1001;
    private final MediaDriver driver;
    private final Aeron aeron;
    final Endpoint endpoint;
    final Subscription subscription;
    /** Whether the serving thread answers ({@link #serve}). */
    volatile boolean answering = true;
    final java.util.concurrent.atomic.AtomicInteger writes = new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger flipsLeft = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.Map<String, Publication> answers = new java.util.HashMap<>();
    private Thread server;

    RawAeronPeer() throws Exception {
        driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
                .aeronDirectoryName(CommonContext.getAeronDirectoryName() + "-ferry-test-raw-" + System.nanoTime())
                .threadingMode(ThreadingMode.SHARED).dirDeleteOnStart(true).dirDeleteOnShutdown(true));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
            endpoint = new Endpoint("127.0.0.1", probe.getLocalPort());
        }
        subscription = aeron.addSubscription("aeron:udp?endpoint=" + endpoint, STREAM_ID);
    }

    /** A connected publication to {@code to}. */
    Publication publicationTo(Endpoint to) {
        Publication p = aeron.addPublication("aeron:udp?endpoint=" + to + "|mtu=65504", STREAM_ID);
        await("a publication to " + to + " connects").atMost(Duration.ofSeconds(5))
                .pollInterval(Duration.ofMillis(1)).until(p::isConnected);
        return p;
    }

    /** Sends a WRITE request of {@code payload} to {@code offset} of {@code segment}, carrying {@code crc}. */
    void sendWrite(Publication p, long sliceId, String segment, long offset, byte[] payload, int crc) {
        send(p, SliceFrame.WRITE, sliceId, segment, offset, payload.length, payload, crc);
    }

    /** Sends a READ request of {@code length} bytes at {@code offset} of {@code segment}. */
    void sendRead(Publication p, long sliceId, String segment, long offset, int length) {
        send(p, SliceFrame.READ, sliceId, segment, offset, length, new byte[0], 0);
    }

    /** Sends a notification about {@code segment}. */
    void sendNotify(Publication p, long sliceId, String segment, byte[] message) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(message);
        send(p, SliceFrame.NOTIFY, sliceId, segment, 0, message.length, message, (int) crc.getValue());
    }

    private void send(Publication p, byte type, long sliceId, String segment, long offset, int length, byte[] payload,
                      int crc) {
        byte[] reply = endpoint.toString().getBytes(StandardCharsets.US_ASCII);
        ByteBuf frame = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, type, sliceId, offset, length,
                crc, SliceFrame.Status.OK, SliceFrame.name(segment));
        UnsafeBuffer message = new UnsafeBuffer(new byte[4 + reply.length + frame.readableBytes() + payload.length]);
        message.putInt(0, reply.length);
        message.putBytes(4, reply);
        int at = 4 + reply.length;
        byte[] head = new byte[frame.readableBytes()];
        frame.getBytes(frame.readerIndex(), head);
        message.putBytes(at, head);
        message.putBytes(at + frame.readableBytes(), payload);
        frame.release();
        while (p.offer(message) < 0) {
            Thread.onSpinWait();
        }
    }

    /** Waits for one answer and returns its status code, or -1 when none comes within 5 s. */
    int awaitAnswerStatus() {
        int[] status = {-1};
        FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) ->
                status[0] = buffer.getShort(offset + 4 + 4 + SliceFrame.STATUS, ByteOrder.BIG_ENDIAN) & 0xFFFF);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (status[0] < 0 && System.nanoTime() < deadline) {
            if (subscription.poll(assembler, 10) == 0) {
                Thread.onSpinWait();
            }
        }
        return status[0];
    }

    /**
     * Starts serving on a thread of its own, as a target that a test controls: while
     * {@link #answering} is false it takes requests and answers none (a connected but silent
     * peer); while true it acknowledges WRITEs (counting them, storing nothing) and answers
     * READs from {@code data}, with one byte flipped in the first {@code flips} READ answers
     * while their CRC32C is that of the right bytes (a target that corrupts answers).
     */
    void serve(byte[] data, int flips) {
        flipsLeft.set(flips);
        FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
            if (!answering) {
                return;
            }
            int replyLength = buffer.getInt(offset);
            String reply = buffer.getStringWithoutLengthAscii(offset + 4, replyLength);
            int frame = offset + 4 + replyLength + 4; // after the frame's length field
            byte type = (byte) (buffer.getByte(frame + SliceFrame.TYPE) & ~SliceFrame.CRC_TRAILER);
            long sliceId = buffer.getLong(frame + SliceFrame.SLICE_ID, ByteOrder.BIG_ENDIAN);
            long at = buffer.getLong(frame + SliceFrame.OFFSET, ByteOrder.BIG_ENDIAN);
            int bodyLength = buffer.getInt(frame + SliceFrame.BODY_LENGTH, ByteOrder.BIG_ENDIAN);
            Publication to = answers.computeIfAbsent(reply, this::publicationToReply);
            if (type == SliceFrame.WRITE) {
                writes.incrementAndGet();
                answer(to, SliceFrame.WRITE_ACK, sliceId, at, new byte[0], 0);
            } else if (type == SliceFrame.READ) {
                byte[] bytes = java.util.Arrays.copyOfRange(data, (int) at, (int) at + bodyLength);
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                crc.update(bytes);
                if (flipsLeft.getAndDecrement() > 0) {
                    bytes[bytes.length / 2] ^= 0x40;
                }
                reads.incrementAndGet();
                answer(to, SliceFrame.READ_DATA, sliceId, at, bytes, (int) crc.getValue());
            }
        });
        server = Thread.ofPlatform().daemon().name("raw-aeron-peer").start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                if (subscription.poll(assembler, 10) == 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(10_000);
                }
            }
        });
    }

    private Publication publicationToReply(String reply) {
        int colon = reply.lastIndexOf(':');
        return publicationTo(new Endpoint(reply.substring(0, colon), Integer.parseInt(reply.substring(colon + 1))));
    }

    private static void answer(Publication to, byte type, long sliceId, long offset, byte[] body, int crc) {
        ByteBuf frame = SliceFrame.header(UnpooledByteBufAllocator.DEFAULT, type, sliceId, offset, body.length, crc,
                SliceFrame.Status.OK, null);
        UnsafeBuffer message = new UnsafeBuffer(new byte[4 + frame.readableBytes() + body.length]);
        message.putInt(0, 0);
        byte[] head = new byte[frame.readableBytes()];
        frame.getBytes(frame.readerIndex(), head);
        frame.release();
        message.putBytes(4, head);
        message.putBytes(4 + head.length, body);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (to.offer(message) < 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
    }

    @Override
    public void close() {
        if (server != null) {
            server.interrupt();
            try {
                server.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        aeron.close();
        driver.close();
    }
}
