package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Round trips of every operation through a real sidecar: Unix socket, /dev/shm buffers, embedded master. */
class SidecarTest {
    private static final long BLOCK = 64 * 1024 + 8;
    private SidecarFixture fx;
    private SidecarClient client;
    private ShmFile shm;
    private int buffer;

    @BeforeEach
    void start() {
        fx = new SidecarFixture(c -> c.http("127.0.0.1", 0).tcp("127.0.0.1", 0).token("s3cret").quotaBytes(4 << 20));
        client = fx.client();
        shm = new ShmFile(2 << 20);
        buffer = client.registerBuffer(shm.path, shm.bytes);
    }

    @AfterEach
    void stop() throws IOException {
        client.close();
        fx.close();
        shm.close();
    }

    private static void assertStatus(ThrowingCallable call, int status, String text) {
        assertThatThrownBy(call).isInstanceOfSatisfying(SidecarException.class, e -> {
            assertThat(SidecarProtocol.statusName(e.status())).isEqualTo(SidecarProtocol.statusName(status));
            assertThat(e.getMessage()).contains(text);
        });
    }

    /** The sidecar populates its mapping of a registered buffer, so that its first copies take no page faults. */
    @Test
    void aRegisteredBufferIsPopulatedInTheSidecarsMappingInTheBackground() {
        org.awaitility.Awaitility.await().untilAsserted(() ->
                assertThat(fx.meter("ferry.sidecar.buffers.populated.bytes")).isEqualTo(shm.bytes));
        client.unregisterBuffer(buffer);
        int again = client.registerBuffer(shm.path, shm.bytes); // unmapped after its populating stopped
        org.awaitility.Awaitility.await().untilAsserted(() ->
                assertThat(fx.meter("ferry.sidecar.buffers.populated.bytes")).isEqualTo(2.0 * shm.bytes));
        buffer = again;
    }

    @Test
    void socketIsOwnerOnlyAndHelloReportsTheLimits() throws IOException {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fx.sidecar.socketPath())))
                .isEqualTo("rw-------");
        assertThat(client.sharedBuffers()).isTrue();
        assertThat(client.maxFrameBytes()).isEqualTo(Sidecar.Context.DEFAULT_MAX_FRAME_BYTES);
    }

    @Test
    void putThenGetMovesEveryByteThroughSharedMemory() {
        long[] keys = {101, 102, 103, 104};
        long[] offsets = new long[4];
        long[] lengths = new long[4];
        for (int i = 0; i < 4; i++) {
            offsets[i] = i * BLOCK;
            lengths[i] = BLOCK;
            BlockContent.fill(keys[i], shm.slice(offsets[i], BLOCK));
        }
        assertThat(client.put(keys, buffer, offsets, lengths)).containsExactly(0, 0, 0, 0);
        assertThat(client.put(keys, buffer, offsets, lengths)).containsExactly(1, 1, 1, 1);

        long readAt = 1 << 20;
        long[] readOffsets = {readAt, readAt + BLOCK, readAt + 2 * BLOCK, readAt + 3 * BLOCK};
        long[] got = client.get(new long[] {104, 999, 102, 101}, buffer, readOffsets, new long[] {BLOCK, BLOCK, BLOCK, BLOCK});
        assertThat(got).containsExactly(BLOCK, -1, BLOCK, BLOCK);
        assertThat(BlockContent.firstMismatch(104, shm.slice(readAt, BLOCK))).isEqualTo(-1);
        assertThat(BlockContent.firstMismatch(102, shm.slice(readAt + 2 * BLOCK, BLOCK))).isEqualTo(-1);
        assertThat(BlockContent.firstMismatch(101, shm.slice(readAt + 3 * BLOCK, BLOCK))).isEqualTo(-1);

        assertThat(client.lookupPrefix(101, 102, 103, 999, 104)).isEqualTo(3);
        assertThat(client.exists(101, 5, 104)).containsExactly(true, false, true);
        assertThat(client.remove(101, 5)).containsExactly(0, 1);
        assertThat(client.exists(101)).containsExactly(false);
        // Releases that need no answer may still be on their way.
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.masterStats().leases() == 0);
    }

    @Test
    void aHotBlockIsServedFromTheLeaseCacheAndStaysRemovable() {
        BlockContent.fill(301, shm.slice(0, BLOCK));
        client.put(new long[] {301}, buffer, new long[] {0}, new long[] {BLOCK});
        for (int i = 0; i < 3; i++) {
            shm.slice(BLOCK, BLOCK).fill((byte) 0);
            assertThat(client.get(301, buffer, BLOCK, BLOCK)).isEqualTo(BLOCK);
            assertThat(BlockContent.firstMismatch(301, shm.slice(BLOCK, BLOCK))).isEqualTo(-1);
        }
        assertThat(fx.meter("ferry.sidecar.lease.cache.misses")).isEqualTo(1);
        assertThat(fx.meter("ferry.sidecar.lease.cache.hits")).isEqualTo(2); // on the event loop
        assertThat(fx.masterStats().leases()).isEqualTo(1); // the cached one, for all three gets

        // Too large a GET for the event loop (5 x 64 KiB > 256 KiB) is served from the cache too.
        long[] keys = {311, 312, 313, 314, 315};
        long[] offsets = new long[5];
        long[] lengths = new long[5];
        for (int i = 0; i < 5; i++) {
            offsets[i] = (i + 2) * BLOCK;
            lengths[i] = BLOCK;
            BlockContent.fill(keys[i], shm.slice(offsets[i], BLOCK));
        }
        client.put(keys, buffer, offsets, lengths);
        for (int round = 0; round < 2; round++) {
            shm.slice(2 * BLOCK, 5 * BLOCK).fill((byte) 0);
            assertThat(client.get(keys, buffer, offsets, lengths)).containsOnly(BLOCK);
            for (int i = 0; i < 5; i++) {
                assertThat(BlockContent.firstMismatch(keys[i], shm.slice(offsets[i], BLOCK))).isEqualTo(-1);
            }
        }
        assertThat(fx.meter("ferry.sidecar.lease.cache.misses")).isEqualTo(2);
        assertThat(fx.meter("ferry.sidecar.lease.cache.hits")).isEqualTo(3);
        assertThat(client.remove(301)).containsExactly(0); // the cache lets go of a block removed through it
        assertThat(client.get(301, buffer, BLOCK, BLOCK)).isEqualTo(-1);
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.masterStats().leases() == 0);
    }

    @Test
    void removeAllRemovesEveryBlockTheLeaseCacheHeldIncludedAndCountsThem() {
        long[] keys = {401, 402, 403};
        long[] offsets = {0, BLOCK, 2 * BLOCK};
        long[] lengths = {BLOCK, BLOCK, BLOCK};
        for (int i = 0; i < 3; i++) {
            BlockContent.fill(keys[i], shm.slice(offsets[i], BLOCK));
        }
        assertThat(client.put(keys, buffer, offsets, lengths)).containsExactly(0, 0, 0);
        assertThat(client.get(402, buffer, 4 * BLOCK, BLOCK)).isEqualTo(BLOCK); // now held by the lease cache
        assertThat(fx.masterStats().leases()).isEqualTo(1);
        assertThat(client.removeAll(false)).isEqualTo(3);
        assertThat(client.exists(keys)).containsExactly(false, false, false);
        assertThat(client.get(402, buffer, 4 * BLOCK, BLOCK)).isEqualTo(-1);
        assertThat(client.removeAll(true)).isZero();
        assertThat(client.put(keys, buffer, offsets, lengths)).containsExactly(0, 0, 0); // the space is free again
        assertThat(client.removeAll(true)).isEqualTo(3);
    }

    @Test
    void putOptionsHardPinWhatTheConnectionPutsAndRemoveAllKeepsItUnlessForced() {
        BlockContent.fill(501, shm.slice(0, BLOCK));
        BlockContent.fill(502, shm.slice(BLOCK, BLOCK));
        client.putOptions(1, true);
        assertThat(client.put(new long[] {501}, buffer, new long[] {0}, new long[] {BLOCK})).containsExactly(0);
        client.putOptions(1, false);
        assertThat(client.put(new long[] {502}, buffer, new long[] {BLOCK}, new long[] {BLOCK})).containsExactly(0);
        assertThat(fx.masterStats().pinnedBlocks()).isEqualTo(1);
        assertThat(client.removeAll(false)).isEqualTo(1);
        assertThat(client.exists(501, 502)).containsExactly(true, false);
        assertThat(client.removeAll(true)).isEqualTo(1);
        assertThat(client.exists(501)).containsExactly(false);

        assertStatus(() -> client.putOptions(0, false), SidecarProtocol.OUT_OF_RANGE, "replicas must be 1 to 64");
        assertStatus(() -> client.putOptions(65, true), SidecarProtocol.OUT_OF_RANGE, "not 65");
    }

    @Test
    void aCachedLocationDiesWithTheNodesRegistrationAndNeverServesReusedBytes() {
        BlockContent.fill(401, shm.slice(0, BLOCK));
        client.put(new long[] {401}, buffer, new long[] {0}, new long[] {BLOCK});
        assertThat(client.get(401, buffer, BLOCK, BLOCK)).isEqualTo(BLOCK); // its lease is cached now
        String segment = "sc-" + fx.dir.getFileName() + "/dram";
        // A node registers again with the blocks whose bytes still match: spoil 401's so that it is lost.
        var master = fx.sidecar.embeddedMaster().master();
        var lease = master.get(BlockKey.ofAll(401), 1_000);
        master.release(lease.id());
        Path slab = Path.of("/dev/shm", "ferry-sc-" + fx.dir.getFileName() + "-" + ProcessHandle.current().pid() + ".slab");
        try (var file = java.nio.channels.FileChannel.open(slab, java.nio.file.StandardOpenOption.WRITE)) {
            file.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}), lease.replicas().getFirst().getFirst().offset());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertThat(master.declareDead(segment)).isNotNull(); // 401 is lost
        // The node registers again (without 401); from then on the cache has nothing.
        await().atMost(Duration.ofSeconds(5)).until(() -> client.get(401, buffer, BLOCK, BLOCK) == -1
                && master.segment(segment) != null);
        BlockContent.fill(402, shm.slice(0, BLOCK));
        client.put(new long[] {402}, buffer, new long[] {0}, new long[] {BLOCK}); // may take 401's old range
        assertThat(client.get(401, buffer, BLOCK, BLOCK)).isEqualTo(-1);
        assertThat(client.get(402, buffer, BLOCK, BLOCK)).isEqualTo(BLOCK);
        assertThat(BlockContent.firstMismatch(402, shm.slice(BLOCK, BLOCK))).isEqualTo(-1);
    }

    @Test
    void blockWrittenLayerByLayerIsVisibleOnlyAfterItsCommit() {
        long key = 77;
        MemorySegment layers = shm.slice(0, BLOCK);
        BlockContent.fill(key, layers);
        long layer = BLOCK / 4;
        assertThat(client.putStart(new long[] {key}, new long[] {BLOCK})).containsExactly(0);
        client.writeRange(key, 2 * layer, buffer, 2 * layer, layer);
        client.writeRange(key, 0, buffer, 0, layer);
        assertStatus(() -> client.writeRange(key, layer / 2, buffer, 0, layer), BAD_STATE, "overlaps");
        assertStatus(() -> client.putCommit(key), BAD_STATE, "incomplete");
        assertThat(client.exists(key)).containsExactly(false);
        client.writeRange(key, layer, buffer, layer, layer);
        client.writeRange(key, 3 * layer, buffer, 3 * layer, BLOCK - 3 * layer);
        client.putCommit(key);

        byte[][] whole = client.getInline(key);
        assertThat(BlockContent.firstMismatch(key, MemorySegment.ofArray(whole[0]))).isEqualTo(-1);
        client.readRange(key, layer, buffer, 1 << 20, layer);
        assertThat(shm.slice(1 << 20, layer).mismatch(layers.asSlice(layer, layer))).isEqualTo(-1);
        assertStatus(() -> client.readRange(key, BLOCK - 8, buffer, 0, 16), OUT_OF_RANGE, "outside block");
        assertStatus(() -> client.readRange(4242, 0, buffer, 0, 16), NOT_FOUND, BlockKey.of(4242).toString());
        assertStatus(() -> client.writeRange(4243, 0, buffer, 0, 16), BAD_STATE, "PUT_START first");
    }

    @Test
    void abortedRangedPutLeavesNothing() {
        client.putStart(new long[] {5, 6}, new long[] {BLOCK, 4096});
        client.writeRange(5, 0, buffer, 0, 4096);
        client.putAbort(5, 6);
        assertThat(fx.masterStats().pendingBlocks()).isZero();
        assertThat(client.exists(5, 6)).containsExactly(false, false);
        assertStatus(() -> client.putCommit(5), BAD_STATE, "no put in progress");
    }

    @Test
    void refusesBadOffsetsAndBuffersOfOtherClients() {
        try (SidecarClient other = fx.client(); ShmFile otherShm = new ShmFile(4096)) {
            int theirs = other.registerBuffer(otherShm.path, 4096);
            assertStatus(() -> client.put(new long[] {1}, theirs, new long[] {0}, new long[] {4096}), UNKNOWN_BUFFER,
                    "buffer " + theirs + " is not registered by this connection");
            assertStatus(() -> other.unregisterBuffer(buffer), UNKNOWN_BUFFER, "not registered");
        }
        long size = shm.memory().byteSize();
        assertStatus(() -> client.put(new long[] {1}, buffer, new long[] {size - 10}, new long[] {4096}), OUT_OF_RANGE,
                "lies outside buffer");
        assertStatus(() -> client.put(new long[] {1}, buffer, new long[] {-1}, new long[] {4096}), OUT_OF_RANGE, "outside");
        assertStatus(() -> client.get(new long[] {1}, buffer, new long[] {Long.MAX_VALUE}, new long[] {8}), OUT_OF_RANGE,
                "outside");
        assertStatus(() -> client.registerBuffer(Path.of("/etc/passwd"), 10), OUT_OF_RANGE, "is not /proc/");
        try (ShmFile other = new ShmFile(8192)) {
            assertStatus(() -> client.registerBuffer(other.path, 4096), OUT_OF_RANGE, "expected 4096");
        }
        try (ShmFile big = new ShmFile(3 << 20)) {
            assertStatus(() -> client.registerBuffer(big.path, 3 << 20), QUOTA_EXCEEDED, "quota");
        }
        // Nothing was stored by the refused requests, and the connection still serves.
        assertThat(client.exists(1)).containsExactly(false);
    }

    @Test
    void getIntoTooSmallARangeIsRefusedAndReleasesTheLease() {
        BlockContent.fill(9, shm.slice(0, BLOCK));
        client.put(new long[] {9}, buffer, new long[] {0}, new long[] {BLOCK});
        assertStatus(() -> client.get(new long[] {9}, buffer, new long[] {0}, new long[] {BLOCK - 1}), OUT_OF_RANGE,
                "holds " + BLOCK);
        // Releases that need no answer may still be on their way.
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.masterStats().leases() == 0);
    }

    @Test
    void memfdRegistrationRefusesBadSizesAndRemoteConnectionsAndLeavesTheConnectionServing() {
        byte[] noBody = frame(REGISTER_MEMFD, 7, new byte[0]);
        assertThat(client.raw(noBody, true).status()).isEqualTo(MALFORMED);
        byte[] tooBig = frame(REGISTER_MEMFD, 8, java.nio.ByteBuffer.allocate(8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        SidecarClient.Answer quota = client.raw(tooBig, true);
        assertThat(quota.status()).isEqualTo(QUOTA_EXCEEDED);
        assertThat(quota.requestId()).isEqualTo(8);
        assertThat(client.lookupPrefix(1, 2)).isZero(); // still reading frames, not descriptors
        try (SidecarClient remote = SidecarClient.connectTcp("127.0.0.1", fx.sidecar.tcpPort(), "s3cret")) {
            byte[] size = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(4096).array();
            assertThat(remote.raw(frame(REGISTER_MEMFD, 9, size), true).status()).isEqualTo(NOT_LOCAL);
            assertThat(remote.lookupPrefix(1)).isZero();
        }
    }

    private static byte[] frame(int opcode, long id, byte[] body) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(HEADER_BYTES + body.length)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(HEADER_AFTER_LENGTH + body.length).putShort((short) opcode).putShort((short) 0).putLong(id).put(body);
        return b.array();
    }

    @Test
    void unregisteredBufferIsUnmappedAndNoLongerUsable() {
        client.unregisterBuffer(buffer);
        assertStatus(() -> client.get(new long[] {1}, buffer, new long[] {0}, new long[] {8}), UNKNOWN_BUFFER, "buffer");
        assertThat(fx.meter("ferry.sidecar.buffers.bytes")).isZero();
    }

    @Test
    void clientDisconnectedMidPutLeavesNothingHalfVisible() {
        SidecarClient doomed = fx.client();
        ShmFile doomedShm = new ShmFile(shm.bytes);
        int b = doomed.registerBuffer(doomedShm.path, doomedShm.bytes);
        BlockContent.fill(31, doomedShm.slice(0, BLOCK));
        doomed.putStart(new long[] {31, 32}, new long[] {BLOCK, BLOCK});
        doomed.writeRange(31, 0, b, 0, BLOCK);
        assertThat(fx.masterStats().pendingBlocks()).isEqualTo(2);
        doomed.close();
        doomedShm.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> fx.masterStats().pendingBlocks() == 0);
        assertThat(client.exists(31, 32)).containsExactly(false, false);
        await().atMost(Duration.ofSeconds(10)).until(() -> fx.meter("ferry.sidecar.connections") == 1);
        assertThat(fx.meter("ferry.sidecar.buffers.bytes")).isEqualTo(shm.memory().byteSize());
    }

    @Test
    void requestsBeforeHelloAreRefused() throws IOException {
        try (var ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.connect(java.net.UnixDomainSocketAddress.of(fx.sidecar.socketPath()));
            var frame = java.nio.ByteBuffer.allocate(20).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            frame.putInt(16).putShort((short) LOOKUP_PREFIX).putShort((short) 0).putLong(5).putInt(0).flip();
            ch.write(frame);
            var answer = java.nio.ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            while (answer.position() < 18) {
                ch.read(answer);
            }
            assertThat(answer.getShort(6)).isEqualTo((short) HELLO_REQUIRED);
            assertThat(answer.getLong(8)).isEqualTo(5);
        }
    }

    @Test
    void tcpNeedsTheTokenAndCarriesBytesInline() {
        int port = fx.sidecar.tcpPort();
        assertStatus(() -> SidecarClient.connectTcp("127.0.0.1", port, "wrong"), UNAUTHORIZED, "token");
        try (SidecarClient remote = SidecarClient.connectTcp("127.0.0.1", port, "s3cret")) {
            byte[] a = new byte[5000];
            byte[] b = new byte[70_000];
            BlockContent.fill(1, MemorySegment.ofArray(a));
            BlockContent.fill(2, MemorySegment.ofArray(b));
            assertThat(remote.putInline(new long[] {1, 2}, new byte[][] {a, b})).containsExactly(0, 0);
            byte[][] back = remote.getInline(2, 3, 1);
            assertThat(back[0]).isEqualTo(b);
            assertThat(back[1]).isNull();
            assertThat(back[2]).isEqualTo(a);
            // The same blocks through shared memory on the Unix socket.
            assertThat(client.get(new long[] {2}, buffer, new long[] {0}, new long[] {2 * BLOCK})).containsExactly(70_000);
            assertThat(BlockContent.firstMismatch(2, shm.slice(0, 70_000))).isEqualTo(-1);
        }
    }

    @Test
    void pipelinedRequestsBeyondTheInFlightLimitAreAllAnswered() throws IOException {
        fx.close();
        fx = new SidecarFixture(c -> c.maxInFlight(2));
        try (SidecarClient c = fx.client(1)) { // its frames carry 8-byte keys
            int n = 300;
            for (int i = 0; i < n; i++) {
                var f = java.nio.ByteBuffer.allocate(28).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                f.putInt(24).putShort((short) LOOKUP_PREFIX).putShort((short) 0).putLong(1000 + i).putInt(1).putLong(i);
                c.raw(f.array(), false);
            }
            java.util.Set<Long> ids = new java.util.HashSet<>();
            for (int i = 0; i < n; i++) {
                SidecarClient.Answer a = c.raw(new byte[0], true);
                assertThat(a.status()).isEqualTo(OK);
                ids.add(a.requestId());
            }
            assertThat(ids).hasSize(n).allMatch(id -> id >= 1000 && id < 1000 + n);
        }
    }

    @Test
    void healthReadinessAndPrometheusMetricsOverHttp() throws Exception {
        BlockContent.fill(3, shm.slice(0, BLOCK));
        client.put(new long[] {3}, buffer, new long[] {0}, new long[] {BLOCK});
        client.get(new long[] {3, 4}, buffer, new long[] {0, BLOCK}, new long[] {BLOCK, BLOCK});
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + fx.sidecar.httpPort();
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/ready")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/nope")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(404);
        String metrics = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics)
                .contains("ferry_sidecar_requests_seconds_count{op=\"get\"} 1")
                .contains("ferry_sidecar_requests_seconds_bucket{op=\"get\"")
                .contains("ferry_sidecar_hits_total 1")
                .contains("ferry_sidecar_misses_total 1")
                .contains("ferry_sidecar_bytes_total{direction=\"in\"} " + BLOCK)
                .contains("ferry_sidecar_leases 0")
                .contains("ferry_sidecar_connections 1")
                .contains("ferry_store_blocks 1.0")
                .contains("ferry_store_hits_dram ")
                .contains("ferry_store_evictions 0.0");
    }

    @Test
    void closeRemovesTheSocketAndRefusesNewConnections() throws IOException {
        Path socket = fx.sidecar.socketPath();
        fx.sidecar.close();
        assertThat(socket).doesNotExist();
        assertThatThrownBy(() -> SidecarClient.connect(socket)).isInstanceOf(java.io.UncheckedIOException.class);
    }
}
