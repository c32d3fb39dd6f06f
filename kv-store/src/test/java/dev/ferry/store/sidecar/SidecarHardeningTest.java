package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What one client must not be able to do to the sidecar or to other clients: crash it with
 * a shrinking file, reach store memory or another client's buffer, pin leases or exhaust
 * direct memory by not reading answers, or hang a connection with broken framing.
 */
class SidecarHardeningTest {
    private static final long MIB = 1 << 20;
    private SidecarFixture fx;

    @AfterEach
    void stop() throws IOException {
        if (fx != null) {
            fx.close();
        }
    }

    private static void assertStatus(ThrowingCallable call, int status, String text) {
        assertThatThrownBy(call).isInstanceOfSatisfying(SidecarException.class, e -> {
            assertThat(statusName(e.status())).isEqualTo(statusName(status));
            assertThat(e.getMessage()).contains(text);
        });
    }

    @Test
    void aFileThatCanShrinkIsRefusedAndASealedMemfdCannotShrink() throws IOException {
        fx = new SidecarFixture(c -> c.tcp("127.0.0.1", 0).token("s3cret"));
        Path file = Path.of("/dev/shm", "ferry-test-" + UUID.randomUUID() + ".buf");
        try (SidecarClient client = fx.client(); Slab plain = Slab.mapShared(file, MIB, true)) {
            // The user's reproduction: a file of the buffer directory, shrunk after registering.
            assertStatus(() -> client.registerBuffer(file, MIB), OUT_OF_RANGE, "plain files are refused");
            int fd = PosixFiles.openReadWrite(file.toString());
            try {
                Path byFd = Path.of("/proc/" + ProcessHandle.current().pid() + "/fd/" + fd);
                assertStatus(() -> client.registerBuffer(byFd, MIB), OUT_OF_RANGE, "sealed against shrinking");
            } finally {
                PosixFiles.close(fd);
            }
            try (ShmFile memfd = new ShmFile(MIB)) {
                int id = client.registerBuffer(memfd.path, MIB);
                try (FileChannel ch = FileChannel.open(memfd.path, StandardOpenOption.WRITE)) {
                    assertThatThrownBy(() -> ch.truncate(4096)).isInstanceOf(IOException.class);
                }
                BlockContent.fill(1, memfd.slice(512 * 1024, 64 * 1024));
                assertThat(client.put(new long[] {1}, id, new long[] {512 * 1024}, new long[] {64 * 1024}))
                        .containsExactly(0);
            }
        }
        // TCP, loopback and with the token: bytes inline only.
        try (SidecarClient remote = SidecarClient.connectTcp("127.0.0.1", fx.sidecar.tcpPort(), "s3cret");
             ShmFile memfd = new ShmFile(4096)) {
            assertThat(remote.sharedBuffers()).isFalse();
            assertStatus(() -> remote.registerBuffer(memfd.path, 4096), NOT_LOCAL, "inline");
            assertThat(remote.getInline(1)[0]).hasSize(64 * 1024);
        }
    }

    @Test
    void aBufferCanNeverAliasStoreMemoryOrAnotherClientsBuffer() throws IOException {
        fx = new SidecarFixture(c -> c);
        long pid = ProcessHandle.current().pid();
        Path slab;
        try (Stream<Path> files = Files.list(Path.of("/dev/shm"))) {
            slab = files.filter(p -> p.getFileName().toString().startsWith("ferry-sc-" + fx.dir.getFileName() + "-"))
                    .findFirst().orElseThrow();
        }
        try (SidecarClient a = fx.client(); SidecarClient b = fx.client(); ShmFile shared = new ShmFile(64 * 1024)) {
            int fd = PosixFiles.openReadWrite(slab.toString());
            try {
                Path slabByFd = Path.of("/proc/" + pid + "/fd/" + fd);
                assertStatus(() -> b.registerBuffer(slabByFd, Files.size(slab)), OUT_OF_RANGE, "refused");
            } finally {
                PosixFiles.close(fd);
            }
            assertStatus(() -> b.registerBuffer(Path.of("/proc/1/fd/0"), 4096), OUT_OF_RANGE, "is not /proc/" + pid);

            int id = a.registerBuffer(shared.path, shared.bytes);
            // The same memfd again, by another connection or the same one: refused, by inode, not name.
            assertStatus(() -> b.registerBuffer(shared.path, shared.bytes), OUT_OF_RANGE, "mapped by the sidecar");
            assertStatus(() -> a.registerBuffer(shared.path, shared.bytes), OUT_OF_RANGE, "mapped by the sidecar");
            a.unregisterBuffer(id);
            await().atMost(Duration.ofSeconds(10)).until(() -> fx.meter("ferry.sidecar.buffers.bytes") == 0);
            assertThat(b.registerBuffer(shared.path, shared.bytes)).isPositive(); // unmapped: free to register
        }
    }

    @Test
    void pipelinedLargeInlineGetsNobodyReadsStayWithinTheConnectionsBudgetAndLeakNoLease() throws Exception {
        int maxFrame = (int) MIB + 4096;
        fx = new SidecarFixture(c -> c.maxFrameBytes(maxFrame).capacityBytes(8 * MIB));
        byte[] block = new byte[(int) MIB];
        BlockContent.fill(5, MemorySegment.ofArray(block));
        int perConnection = 80;
        // c1 and c2 send frames with 8-byte keys: protocol version 1.
        try (SidecarClient writer = fx.client(); SidecarClient c1 = fx.client(1); SidecarClient c2 = fx.client(1)) {
            writer.putInline(new long[] {5}, new byte[][] {block});
            double leasesBefore = fx.meter("ferry.sidecar.leases");
            long directBefore = usedDirectMemory(); // the allocator is the JVM's: other tests' chunks count too
            for (int i = 0; i < perConnection; i++) {
                c1.raw(getInline(1000 + i, 5), false);
                c2.raw(getInline(2000 + i, 5), false);
            }
            // Nobody reads: each connection is served up to its budget, then no longer read.
            await().atMost(Duration.ofSeconds(30)).until(() -> fx.sidecar.inFlight() == 0 && served() > 0);
            long budget = SidecarServer.CONNECTION_FRAMES * (long) maxFrame;
            assertThat(served()).isLessThan(2 * perConnection);
            assertThat(usedDirectMemory() - directBefore).isLessThan(2 * 2 * budget + 8 * MIB);
            // Reading resumes the service: every answer comes, complete and correct.
            for (SidecarClient c : new SidecarClient[] {c1, c2}) {
                Set<Long> ids = new HashSet<>();
                for (int i = 0; i < perConnection; i++) {
                    SidecarClient.Answer a = c.raw(new byte[0], true);
                    assertThat(a.status()).as("answer %d", a.requestId()).isEqualTo(OK);
                    ByteBuffer body = ByteBuffer.wrap(a.body()).order(ByteOrder.LITTLE_ENDIAN);
                    assertThat(body.getInt()).isEqualTo(1);
                    assertThat(body.getLong()).isEqualTo(MIB);
                    assertThat(BlockContent.firstMismatch(5, MemorySegment.ofArray(a.body()).asSlice(12)))
                            .isEqualTo(-1);
                    ids.add(a.requestId());
                }
                assertThat(ids).hasSize(perConnection);
            }
            assertThat(fx.meter("ferry.sidecar.leases")).isEqualTo(leasesBefore);
            assertThat(errors(INTERNAL)).isZero();
        }
    }

    private double served() {
        var timer = fx.sidecar.registry().find("ferry.sidecar.requests").tag("op", "get_inline").timer();
        return timer == null ? 0 : timer.count();
    }

    private double errors(int status) {
        var counter = fx.sidecar.registry().find("ferry.sidecar.errors").tag("status", statusName(status)).counter();
        return counter == null ? 0 : counter.count();
    }

    private static long usedDirectMemory() {
        return ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric().usedDirectMemory();
    }

    private static byte[] getInline(long id, long key) {
        return frame(GET_INLINE, id, ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putLong(key)
                .array());
    }

    private static byte[] frame(int opcode, long id, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + body.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(HEADER_AFTER_LENGTH + body.length).putShort((short) opcode).putShort((short) 0).putLong(id).put(body);
        return b.array();
    }

    private static byte[] hello(long id, String token) {
        byte[] t = token.getBytes(StandardCharsets.UTF_8);
        return frame(HELLO, id, ByteBuffer.allocate(6 + t.length).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 1)
                .putShort((short) 1).putShort((short) t.length).put(t).array());
    }

    private static String message(SidecarClient.Answer a) {
        return new String(a.body(), 2, a.body().length - 2, StandardCharsets.UTF_8);
    }

    @Test
    void aSecondHelloATokenOnTheUnixSocketAndRequestIdZeroAreRefusedAndTheConnectionServes() throws IOException {
        fx = new SidecarFixture(c -> c);
        try (SidecarClient c = fx.client(1)) { // its GET_INLINE frame carries an 8-byte key
            SidecarClient.Answer again = c.raw(hello(7, ""), true);
            assertThat(again.status()).isEqualTo(BAD_STATE);
            assertThat(message(again)).contains("one per connection");
            SidecarClient.Answer token = c.raw(hello(8, "s3cret"), true);
            assertThat(token.status()).isEqualTo(BAD_STATE); // greeted already: the HELLO rule comes first
            SidecarClient.Answer zero = c.raw(getInline(0, 5), true);
            assertThat(zero.status()).isEqualTo(MALFORMED);
            assertThat(zero.requestId()).isEqualTo(CONNECTION_ID);
            assertThat(message(zero)).contains("request id 0 is reserved");
            assertThat(c.lookupPrefix(1, 2)).isZero();
        }
        try (RawConnection raw = new RawConnection(fx.sidecar.socketPath())) {
            SidecarClient.Answer token = raw.call(hello(1, "s3cret"));
            assertThat(token.status()).isEqualTo(MALFORMED);
            assertThat(message(token)).contains("takes no token");
            SidecarClient.Answer ok = raw.call(hello(2, ""));
            assertThat(ok.status()).isEqualTo(OK);
            assertThat(ok.body()).hasSize(HELLO_ANSWER_BYTES);
            assertThat(ok.body()[2] & 1).isEqualTo(1); // a peer of the sidecar's user on the Unix socket
        }
    }

    @Test
    void aHalfSentFrameOrAnAnnouncedMemfdThatNeverComesClosesTheConnectionWithAReason() {
        fx = new SidecarFixture(c -> c.frameTimeoutMillis(300));
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            try (RawConnection raw = new RawConnection(fx.sidecar.socketPath())) {
                assertThat(raw.call(hello(1, "")).status()).isEqualTo(OK);
                byte[] half = java.util.Arrays.copyOf(getInline(2, 5), 10);
                SidecarClient.Answer a = raw.call(half);
                assertThat(a.status()).isEqualTo(MALFORMED);
                assertThat(a.requestId()).isEqualTo(CONNECTION_ID);
                assertThat(message(a)).contains("10 bytes came), and no byte followed within 300 ms");
                assertThat(raw.closedByPeer()).isTrue();
            }
            try (RawConnection raw = new RawConnection(fx.sidecar.socketPath())) {
                assertThat(raw.call(hello(1, "")).status()).isEqualTo(OK);
                byte[] size = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(4096).array();
                SidecarClient.Answer ready = raw.call(frame(REGISTER_MEMFD, 3, size));
                assertThat(ready.status()).isEqualTo(OK);
                SidecarClient.Answer a = raw.call(new byte[] {0}); // one byte, no descriptor
                assertThat(a.status()).isEqualTo(MALFORMED);
                assertThat(message(a)).contains("announced a memfd, none came");
                assertThat(raw.closedByPeer()).isTrue();
            }
        });
    }

    @Test
    void aFrameThatKeepsComingSlowlyIsServedHoweverLongItTakes() {
        fx = new SidecarFixture(c -> c.frameTimeoutMillis(1000));
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            try (RawConnection raw = new RawConnection(fx.sidecar.socketPath())) {
                assertThat(raw.call(hello(1, "")).status()).isEqualTo(OK);
                byte[] whole = getInline(2, 5);
                for (int i = 0; i < 8; i++) { // 8 pauses of 200 ms: the frame takes longer than the timeout
                    raw.send(java.util.Arrays.copyOfRange(whole, i * whole.length / 8, (i + 1) * whole.length / 8));
                    Thread.sleep(200);
                }
                SidecarClient.Answer a = raw.read();
                assertThat(a.status()).isEqualTo(OK);
                assertThat(a.requestId()).isEqualTo(2);
            }
        });
    }

    @Test
    void aTokenToATcpSidecarWithoutOneIsRefusedAndNoTokenIsServed() {
        fx = new SidecarFixture(c -> c.tcp("127.0.0.1", 0));
        assertStatus(() -> SidecarClient.connectTcp("127.0.0.1", fx.sidecar.tcpPort(), "stray"), MALFORMED,
                "this sidecar has no token");
        try (SidecarClient remote = SidecarClient.connectTcp("127.0.0.1", fx.sidecar.tcpPort(), null)) {
            assertThat(remote.sharedBuffers()).isFalse();
            assertThat(remote.lookupPrefix(1)).isZero();
        }
    }

    @Test
    void aPutOfAKeyThatExistsWithAnotherLengthIsRefusedWritesNothingAndKeepsTheStoredBlock() {
        fx = new SidecarFixture(c -> c);
        byte[] first = new byte[4096];
        BlockContent.fill(9, MemorySegment.ofArray(first));
        byte[] other = new byte[4096];
        BlockContent.fill(10, MemorySegment.ofArray(other));
        try (SidecarClient c = fx.client()) {
            assertThat(c.putInline(new long[] {9}, new byte[][] {first})).containsExactly(0);
            // The same length is "already there"; another length is an error, for the whole request.
            assertThat(c.putInline(new long[] {9}, new byte[][] {first.clone()})).containsExactly(1);
            assertStatus(() -> c.putInline(new long[] {10, 9}, new byte[][] {other, new byte[8192]}), BAD_STATE,
                    "block key " + BlockKey.of(9) + " is already in the store (or being written) with 4096 bytes, not the 8192");
            assertStatus(() -> c.putStart(new long[] {11, 9}, new long[] {8192, 8192}), BAD_STATE,
                    "block key " + BlockKey.of(9) + " is already in the store");
            assertThat(c.getInline(9)[0]).isEqualTo(first);
            assertThat(c.exists(10, 11)).containsExactly(false, false);
            assertThat(fx.masterStats().pendingBlocks()).isZero();
            // Nothing of the refused requests is left pending on the connection either.
            assertThat(c.putStart(new long[] {11}, new long[] {4096})).containsExactly(0);
            c.putAbort(11);
        }
    }

    @Test
    void atShutdownAnIdleConnectionIsToldWhyItCloses() throws Exception {
        fx = new SidecarFixture(c -> c);
        try (RawConnection raw = new RawConnection(fx.sidecar.socketPath())) {
            assertThat(raw.call(hello(1, "")).status()).isEqualTo(OK);
            fx.sidecar.close();
            SidecarClient.Answer a = raw.read();
            assertThat(a.status()).isEqualTo(SHUTTING_DOWN);
            assertThat(a.requestId()).isEqualTo(CONNECTION_ID);
            assertThat(raw.closedByPeer()).isTrue();
        }
    }

    /** A bare connection to the Unix socket: frames in, frames out, nothing said for the test. */
    static final class RawConnection implements AutoCloseable {
        private final java.nio.channels.SocketChannel ch;

        RawConnection(Path socket) {
            try {
                ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
                ch.connect(java.net.UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        SidecarClient.Answer call(byte[] frame) throws IOException {
            send(frame);
            return read();
        }

        void send(byte[] bytes) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }

        SidecarClient.Answer read() throws IOException {
            ByteBuffer length = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            fill(length);
            ByteBuffer rest = ByteBuffer.allocate(length.getInt(0)).order(ByteOrder.LITTLE_ENDIAN);
            fill(rest);
            byte[] body = new byte[rest.capacity() - HEADER_AFTER_LENGTH];
            rest.get(HEADER_AFTER_LENGTH, body);
            return new SidecarClient.Answer(rest.getShort(0) & 0xFFFF, rest.getShort(2) & 0xFFFF, rest.getLong(4), body);
        }

        /** Whether the sidecar closed the connection (the next read ends the stream). */
        boolean closedByPeer() throws IOException {
            return ch.read(ByteBuffer.allocate(1)) < 0;
        }

        private void fill(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) {
                    throw new IOException("closed by the sidecar");
                }
            }
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }
}
