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

    @Override
    public void close() {
        aeron.close();
        driver.close();
    }
}
