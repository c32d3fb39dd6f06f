package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded fuzzing of the sidecar's decoding: frames cut at random points, then malformed
 * frames (random opcodes, counts, offsets, lengths, truncated and padded bodies) against a
 * live sidecar. Each bad frame gets exactly one answer with a precise error status (never
 * INTERNAL), the connection keeps serving good requests, and nothing leaks: no lease, no
 * pending block, no buffer of a closed connection. Then the paths that end a connection or
 * a session's setup, on fresh connections, for a bounded time: HELLO with random tokens
 * (Unix socket, TCP), a second HELLO, REGISTER_MEMFD followed by anything but its
 * descriptor, frames left half sent; each gets its one answer with a precise status and
 * either keeps serving or is closed, as docs/protocol.md says.
 */
class SidecarFuzzTest {
    private static final long SEED = 20_251_125L;
    private static final long FRAME_TIMEOUT_MS = 200;
    private static final String TOKEN = "fuzz-token";
    private static final Set<Integer> EXPECTED_ERRORS = Set.of(MALFORMED, UNKNOWN_OPCODE, NOT_FOUND, UNKNOWN_BUFFER,
            OUT_OF_RANGE, QUOTA_EXCEEDED, NO_SPACE, BAD_STATE, UNSUPPORTED_VERSION, NO_PROCESS_ACCESS);
    private SidecarFixture fx;
    private ShmFile shm;

    @BeforeEach
    void start() {
        fx = new SidecarFixture(c -> c.maxFrameBytes(1 << 20).quotaBytes(1 << 20).frameTimeoutMillis(FRAME_TIMEOUT_MS)
                .tcp("127.0.0.1", 0).token(TOKEN));
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

    /** Both protocol versions: 8-byte keys (1) and 16-byte keys (2). */
    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void malformedFramesGetAClearErrorAndTheConnectionStillServes(int version) {
        Random random = new Random(SEED);
        try (SidecarClient c = fx.client(version)) {
            int buffer = c.registerBuffer(shm.path, shm.bytes);
            BlockContent.fill(42, shm.slice(0, 8192));
            c.put(new long[] {42}, buffer, new long[] {0}, new long[] {8192});
            int[] statuses = new int[INTERNAL + 1];
            for (int i = 0; i < 2_000; i++) {
                long id = 1_000_000L + i;
                int opcode = random.nextInt(4) == 0 ? random.nextInt(40) : 1 + random.nextInt(MAX_OPCODE);
                byte[] body = switch (opcode) {
                    case HELLO -> helloBody(random); // a second HELLO, whatever it carries
                    case REGISTER_BUFFER -> registerBody(random, shm);
                    case REGISTER_MEMFD -> memfdBody(random); // never "send the descriptor": see below
                    case REMOVE_ALL -> removeAllBody(random); // never a valid one: block 42 must stay
                    default -> badBody(random, opcode, buffer, version);
                };
                SidecarClient.Answer a = c.raw(frame(opcode, id, body), true);
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

    @Test
    void helloTokensAndMemfdFramingOnFreshConnectionsGetTheirAnswerThenServeOrClose() throws IOException {
        Random random = new Random(SEED + 2);
        long deadline = System.nanoTime() + Duration.ofSeconds(8).toNanos();
        int[] cases = new int[6];
        for (int i = 0; i < 60 && System.nanoTime() < deadline; i++) {
            int kind = random.nextInt(cases.length);
            cases[kind]++;
            boolean tcp = kind == 1;
            try (SidecarHardeningTest.RawConnection raw = tcp
                    ? null : new SidecarHardeningTest.RawConnection(fx.sidecar.socketPath())) {
                switch (kind) {
                    case 0 -> { // HELLO on the Unix socket, with or without a random token
                        byte[] token = random.nextBoolean() ? new byte[0] : randomBytes(random, 1 + random.nextInt(40));
                        SidecarClient.Answer a = raw.call(frame(HELLO, 1, hello(1, 1, token)));
                        assertThat(a.status()).isEqualTo(token.length == 0 ? OK : MALFORMED);
                        assertServes(raw, token.length == 0);
                    }
                    case 1 -> { // HELLO over TCP with a random, the right or no token
                        int pick = random.nextInt(3);
                        String token = pick == 0 ? TOKEN : pick == 1 ? "" : new String(randomBytes(random, 8),
                                java.nio.charset.StandardCharsets.ISO_8859_1);
                        if (pick == 0) {
                            try (SidecarClient c = SidecarClient.connectTcp("127.0.0.1", fx.sidecar.tcpPort(), token)) {
                                assertThat(c.sharedBuffers()).isFalse();
                                assertThat(c.lookupPrefix(1)).isZero();
                            }
                        } else {
                            org.assertj.core.api.Assertions.assertThatThrownBy(() -> SidecarClient.connectTcp(
                                    "127.0.0.1", fx.sidecar.tcpPort(), token)).isInstanceOfSatisfying(
                                    SidecarException.class, e -> assertThat(e.status()).isEqualTo(UNAUTHORIZED));
                        }
                    }
                    case 2 -> { // a second HELLO
                        assertThat(raw.call(frame(HELLO, 1, hello(1, 1, new byte[0]))).status()).isEqualTo(OK);
                        SidecarClient.Answer a = raw.call(frame(HELLO, 2, helloBody(random)));
                        assertThat(a.status()).isEqualTo(BAD_STATE);
                        assertServes(raw, true);
                    }
                    case 3 -> { // REGISTER_MEMFD answered "ready", then a frame instead of the descriptor
                        assertThat(raw.call(frame(HELLO, 1, hello(1, 1, new byte[0]))).status()).isEqualTo(OK);
                        assertThat(raw.call(memfd(2, 1 + random.nextInt(4096))).status()).isEqualTo(OK);
                        SidecarClient.Answer a = raw.call(frame(LOOKUP_PREFIX, 3, keysBody(1)));
                        assertThat(a.status()).isEqualTo(MALFORMED);
                        assertThat(a.requestId()).isIn(2L, CONNECTION_ID); // at once, or after the frame timeout
                        assertThat(raw.closedByPeer()).isTrue();
                    }
                    case 4 -> { // REGISTER_MEMFD answered "ready", then bytes without a descriptor
                        assertThat(raw.call(frame(HELLO, 1, hello(1, 1, new byte[0]))).status()).isEqualTo(OK);
                        assertThat(raw.call(memfd(2, 1 + random.nextInt(4096))).status()).isEqualTo(OK);
                        SidecarClient.Answer a = raw.call(randomBytes(random, 1 + random.nextInt(3)));
                        assertThat(a.status()).isEqualTo(MALFORMED);
                        assertThat(raw.closedByPeer()).isTrue();
                    }
                    default -> { // a frame cut short, never finished
                        assertThat(raw.call(frame(HELLO, 1, hello(1, 1, new byte[0]))).status()).isEqualTo(OK);
                        byte[] whole = frame(LOOKUP_PREFIX, 2, keysBody(1 + random.nextInt(8)));
                        SidecarClient.Answer a = raw.call(java.util.Arrays.copyOf(whole, 1 + random.nextInt(
                                whole.length - 1)));
                        assertThat(a.status()).isEqualTo(MALFORMED);
                        assertThat(a.requestId()).isEqualTo(CONNECTION_ID);
                        assertThat(raw.closedByPeer()).isTrue();
                    }
                }
            }
        }
        assertThat(cases).doesNotContain(0);
        await().atMost(Duration.ofSeconds(10)).until(() -> fx.meter("ferry.sidecar.connections") == 0);
        assertThat(fx.meter("ferry.sidecar.buffers.bytes")).isZero();
        assertThat(fx.masterStats().leases()).isZero();
        try (SidecarClient c = fx.client()) {
            assertThat(c.lookupPrefix(1, 2)).isZero();
        }
    }

    /** The connection answers a request (after a HELLO when {@code greeted}, else HELLO_REQUIRED). */
    private static void assertServes(SidecarHardeningTest.RawConnection raw, boolean greeted) throws IOException {
        SidecarClient.Answer a = raw.call(frame(LOOKUP_PREFIX, 99, keysBody(1)));
        assertThat(a.requestId()).isEqualTo(99);
        assertThat(a.status()).isEqualTo(greeted ? OK : HELLO_REQUIRED);
    }

    private static byte[] hello(int min, int max, byte[] token) {
        return ByteBuffer.allocate(6 + token.length).order(ByteOrder.LITTLE_ENDIAN).putShort((short) min)
                .putShort((short) max).putShort((short) token.length).put(token).array();
    }

    private static byte[] helloBody(Random random) {
        return random.nextBoolean() ? hello(random.nextInt(3), random.nextInt(3), randomBytes(random, random.nextInt(9)))
                : randomBytes(random, random.nextInt(12));
    }

    private static byte[] memfd(long id, long size) {
        return frame(REGISTER_MEMFD, id, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(size).array());
    }

    /** A REGISTER_MEMFD body the sidecar refuses at once: a wrong length, or a size outside 1..quota. */
    /** A REMOVE_ALL body that is refused: not one byte, or a byte other than 0 and 1. */
    private static byte[] removeAllBody(Random random) {
        if (random.nextBoolean()) {
            return new byte[] {(byte) (2 + random.nextInt(254))};
        }
        int n = random.nextInt(16);
        return randomBytes(random, n == 1 ? 2 : n);
    }

    private static byte[] memfdBody(Random random) {
        if (random.nextBoolean()) {
            int n = random.nextInt(16);
            return randomBytes(random, n == 8 ? 9 : n);
        }
        long size = random.nextBoolean() ? -random.nextInt(1000) : (1 << 20) + 1 + random.nextInt(1 << 20);
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(size).array();
    }

    /** A REGISTER_BUFFER body naming a file the sidecar must refuse (or random bytes). */
    private static byte[] registerBody(Random random, ShmFile registered) {
        long pid = ProcessHandle.current().pid();
        String path = switch (random.nextInt(5)) {
            case 0 -> registered.path.toString(); // mapped already: aliasing
            case 1 -> "/proc/" + pid + "/fd/" + (100_000 + random.nextInt(100_000)); // no such descriptor
            case 2 -> "/proc/" + (pid + 1 + random.nextInt(1000)) + "/fd/" + random.nextInt(10); // not the peer's
            case 3 -> "/dev/shm/" + Long.toHexString(random.nextLong());
            default -> new String(randomBytes(random, random.nextInt(40)), java.nio.charset.StandardCharsets.ISO_8859_1);
        };
        byte[] p = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long size = random.nextBoolean() ? registered.bytes : random.nextInt(1 << 21) - 10;
        ByteBuffer b = ByteBuffer.allocate(10 + p.length).order(ByteOrder.LITTLE_ENDIAN).putLong(size)
                .putShort((short) p.length).put(p);
        return random.nextInt(6) == 0 ? java.util.Arrays.copyOf(b.array(), random.nextInt(b.capacity())) : b.array();
    }

    private static byte[] keysBody(int n) {
        ByteBuffer b = ByteBuffer.allocate(4 + 8 * n).order(ByteOrder.LITTLE_ENDIAN).putInt(n);
        for (int i = 0; i < n; i++) {
            b.putLong(7_000_000 + i);
        }
        return b.array();
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
    private static byte[] badBody(Random random, int opcode, int buffer, int version) {
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
        ByteBuffer b = ByteBuffer.allocate(4 + count * entryBytes(entry, version) + 64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(kind == 1 ? count + 1 + random.nextInt(1000) : kind == 2 ? -1 - random.nextInt(10) : count);
        for (int i = 0; i < count; i++) {
            long key = random.nextInt(8) == 0 && opcode != REMOVE ? 42 : random.nextInt(100_000) + 1_000;
            switch (entry) {
                case PUT_ENTRY -> writeKey(b, BlockKey.of(key), version).putInt(kind == 3 ? buffer + 1 + random.nextInt(5) : buffer).putInt(0)
                        .putLong(kind == 4 ? random.nextLong() : random.nextInt(300_000)).putLong(random.nextInt(70_000) - 100);
                case SIZED_KEY_ENTRY -> writeKey(b, BlockKey.of(key), version).putLong(kind == 4 ? random.nextLong() : random.nextInt(70_000) - 100);
                case RANGE_ENTRY -> writeKey(b, BlockKey.of(key), version).putLong(random.nextInt(10_000) - 10)
                        .putInt(kind == 3 ? buffer + 1 : buffer).putInt(0).putLong(random.nextInt(300_000))
                        .putLong(kind == 4 ? random.nextLong() : random.nextInt(10_000));
                default -> writeKey(b, BlockKey.of(key), version);
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
