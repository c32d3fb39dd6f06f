package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockContent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Seeded fuzzing of the sidecar's decoding: frames cut at random points, then malformed
 * frames (random opcodes, counts, offsets, lengths, truncated and padded bodies) against a
 * live sidecar. Each bad frame gets exactly one answer with a precise error status (never
 * INTERNAL), the connection keeps serving good requests, and nothing leaks: no lease, no
 * pending block, no buffer of a closed connection.
 */
class SidecarFuzzTest {
    private static final long SEED = 20_251_125L;
    private static final Set<Integer> EXPECTED_ERRORS = Set.of(MALFORMED, UNKNOWN_OPCODE, NOT_FOUND, UNKNOWN_BUFFER,
            OUT_OF_RANGE, QUOTA_EXCEEDED, NO_SPACE, BAD_STATE, UNSUPPORTED_VERSION);
    private SidecarFixture fx;
    private ShmFile shm;

    @BeforeEach
    void start() {
        fx = new SidecarFixture(c -> c.maxFrameBytes(1 << 20).quotaBytes(1 << 20));
        shm = new ShmFile(256 * 1024);
    }

    @AfterEach
    void stop() throws IOException {
        fx.close();
        shm.close();
    }

    @Test
    void decoderReassemblesFramesCutAnywhere() {
        Random random = new Random(SEED);
        for (int trial = 0; trial < 100; trial++) {
            EmbeddedChannel ch = new EmbeddedChannel(SidecarFrames.decoder(1 << 16));
            List<byte[]> frames = new ArrayList<>();
            ByteBuf stream = Unpooled.buffer();
            for (int i = 0; i < 1 + random.nextInt(8); i++) {
                byte[] f = frame(random.nextInt(20), random.nextLong(), randomBytes(random, random.nextInt(300)));
                frames.add(f);
                stream.writeBytes(f);
            }
            while (stream.isReadable()) {
                ch.writeInbound(stream.readRetainedSlice(Math.min(stream.readableBytes(), 1 + random.nextInt(50))));
            }
            stream.release();
            for (byte[] expected : frames) {
                ByteBuf got = ch.readInbound();
                byte[] bytes = new byte[got.readableBytes()];
                got.readBytes(bytes).release();
                assertThat(bytes).isEqualTo(expected);
            }
            assertThat((Object) ch.readInbound()).isNull();
            assertThat(ch.finish()).isFalse();
        }
    }

    @Test
    void malformedFramesGetAClearErrorAndTheConnectionStillServes() {
        Random random = new Random(SEED);
        try (SidecarClient c = fx.client()) {
            int buffer = c.registerBuffer(shm.path, shm.bytes);
            BlockContent.fill(42, shm.slice(0, 8192));
            c.put(new long[] {42}, buffer, new long[] {0}, new long[] {8192});
            int[] statuses = new int[INTERNAL + 1];
            for (int i = 0; i < 2_000; i++) {
                long id = 1_000_000L + i;
                int opcode = random.nextInt(4) == 0 ? random.nextInt(40) : 2 + random.nextInt(MAX_OPCODE - 1);
                if (opcode == REGISTER_MEMFD) {
                    // Two steps (an answer, then a descriptor from the client): tested by the Python suite.
                    opcode = GET_INLINE;
                }
                SidecarClient.Answer a = c.raw(frame(opcode, id, badBody(random, opcode, buffer)), true);
                assertThat(a.requestId()).isEqualTo(id);
                assertThat(a.opcode()).isEqualTo(opcode & 0xFFFF);
                assertThat(a.status()).as("frame %d, opcode %d", i, opcode).isNotEqualTo(INTERNAL);
                if (a.status() != OK) {
                    assertThat(EXPECTED_ERRORS).contains(a.status());
                    int n = (a.body()[0] & 0xFF) | (a.body()[1] & 0xFF) << 8;
                    assertThat(n).isPositive().isEqualTo(a.body().length - 2);
                }
                statuses[a.status()]++;
                if (i % 50 == 0) {
                    // The same connection still serves good requests, byte for byte.
                    assertThat(c.get(new long[] {42}, buffer, new long[] {65536}, new long[] {8192}))
                            .containsExactly(8192);
                    assertThat(BlockContent.firstMismatch(42, shm.slice(65536, 8192))).isEqualTo(-1);
                }
            }
            assertThat(statuses[MALFORMED]).isPositive();
            assertThat(statuses[UNKNOWN_OPCODE]).isPositive();
            assertThat(statuses[OUT_OF_RANGE] + statuses[UNKNOWN_BUFFER]).isPositive();
            // Releases that need no answer may still be on their way.
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.masterStats().leases() == 0);
        }
        // The connection's pending puts (a random PUT_START may succeed) are aborted, its buffers dropped.
        await().atMost(Duration.ofSeconds(10)).until(() -> fx.masterStats().pendingBlocks() == 0
                && fx.meter("ferry.sidecar.connections") == 0);
        assertThat(fx.meter("ferry.sidecar.buffers.bytes")).isZero();
    }

    @Test
    void framesThatBreakTheFramingCloseOnlyTheirConnection() {
        Random random = new Random(SEED + 1);
        for (int i = 0; i < 20; i++) {
            try (SidecarClient c = fx.client()) {
                byte[] f;
                int expected;
                if (i % 2 == 0) {
                    // A length beyond the limit (up to 4 GiB): refused before any byte of the body is buffered.
                    f = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt((1 << 20) + random.nextInt(
                            Integer.MAX_VALUE - (1 << 20))).putShort((short) GET).putShort((short) 0).putLong(1).array();
                    expected = FRAME_TOO_LARGE;
                } else {
                    // A length shorter than the header: the frame is consumed, the answer has request id 0.
                    int length = random.nextInt(12);
                    f = new byte[4 + length];
                    ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).putInt(length);
                    expected = MALFORMED;
                }
                SidecarClient.Answer a = c.raw(f, true);
                assertThat(a.status()).isEqualTo(expected);
                assertThat(a.requestId()).isZero();
            }
        }
        try (SidecarClient c = fx.client()) {
            assertThat(c.lookupPrefix(1, 2)).isZero();
        }
    }

    private static byte[] frame(int opcode, long id, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + body.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(HEADER_AFTER_LENGTH + body.length).putShort((short) opcode).putShort((short) 0).putLong(id).put(body);
        return b.array();
    }

    private static byte[] randomBytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    /** A body that is plausible for {@code opcode} but wrong in one random way (or random bytes). */
    private static byte[] badBody(Random random, int opcode, int buffer) {
        int kind = random.nextInt(6);
        if (kind == 0) {
            return randomBytes(random, random.nextInt(100));
        }
        int entry = switch (opcode) {
            case PUT, GET -> PUT_ENTRY;
            case PUT_START, PUT_INLINE -> SIZED_KEY_ENTRY;
            case WRITE_RANGE, READ_RANGE -> RANGE_ENTRY;
            default -> 8;
        };
        int count = 1 + random.nextInt(4);
        ByteBuffer b = ByteBuffer.allocate(4 + count * entry + 64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(kind == 1 ? count + 1 + random.nextInt(1000) : kind == 2 ? -1 - random.nextInt(10) : count);
        for (int i = 0; i < count; i++) {
            long key = random.nextInt(8) == 0 && opcode != REMOVE ? 42 : random.nextInt(100_000) + 1_000;
            switch (entry) {
                case PUT_ENTRY -> b.putLong(key).putInt(kind == 3 ? buffer + 1 + random.nextInt(5) : buffer).putInt(0)
                        .putLong(kind == 4 ? random.nextLong() : random.nextInt(300_000)).putLong(random.nextInt(70_000) - 100);
                case SIZED_KEY_ENTRY -> b.putLong(key).putLong(kind == 4 ? random.nextLong() : random.nextInt(70_000) - 100);
                case RANGE_ENTRY -> b.putLong(key).putLong(random.nextInt(10_000) - 10)
                        .putInt(kind == 3 ? buffer + 1 : buffer).putInt(0).putLong(random.nextInt(300_000))
                        .putLong(kind == 4 ? random.nextLong() : random.nextInt(10_000));
                default -> b.putLong(key);
            }
        }
        if (kind == 5) {
            b.put(randomBytes(random, 1 + random.nextInt(7)));
        }
        int length = b.position();
        if (random.nextInt(5) == 0) {
            length = random.nextInt(length + 1); // truncated
        }
        byte[] out = new byte[length];
        b.get(0, out);
        return out;
    }
}
