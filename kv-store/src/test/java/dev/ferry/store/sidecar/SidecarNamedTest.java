package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.Replica;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Protocol version 3's named blocks: the sidecar stores each string key with its value and
 * compares it on every hit, so that two string keys forced onto one block key never see each
 * other's bytes; clients of versions 1 and 2 keep working beside them.
 */
class SidecarNamedTest {
    private SidecarFixture fx;
    private ShmFile shm;

    @BeforeEach
    void start() {
        fx = new SidecarFixture(c -> c);
        shm = new ShmFile(1 << 20);
    }

    @AfterEach
    void stop() throws IOException {
        fx.close();
        shm.close();
    }

    private static BlockKey[] one(BlockKey key) {
        return new BlockKey[] {key};
    }

    private void write(long offset, byte[] bytes) {
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, shm.memory(), offset, bytes.length);
    }

    private byte[] read(long offset, int length) {
        return shm.slice(offset, length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    private double mismatches() {
        return fx.sidecar.registry().get("ferry.sidecar.key.mismatches").counter().count();
    }

    @Test
    void twoKeysOnOneBlockKeyNeverServeEachOthersBytes() {
        BlockKey shared = new BlockKey(0xC0111DE, 42); // what a forced digest collision gives
        byte[] a = "bytes of a".getBytes(StandardCharsets.UTF_8);
        byte[] b = "the bytes of b".getBytes(StandardCharsets.UTF_8);
        try (SidecarClient c = fx.client()) {
            assertThat(c.version()).isEqualTo(3);
            int buf = c.registerBuffer(shm.path, shm.bytes);
            write(0, a);
            write(4096, b);
            assertThat(c.putNamed(one(shared), new String[] {"key-a"}, buf, new long[] {0}, new long[] {a.length}))
                    .containsExactly(0);
            assertThat(c.putNamed(one(shared), new String[] {"key-b"}, buf, new long[] {4096}, new long[] {b.length}))
                    .containsExactly(OTHER_KEY);
            assertThat(c.putNamed(one(shared), new String[] {"key-a"}, buf, new long[] {4096}, new long[] {b.length}))
                    .containsExactly(1); // there under this name: a put keeps the first value

            // key-b's read lands on key-a's block: a miss, and the bytes it read are zeroed.
            long[] got = c.getNamed(new BlockKey[] {shared, shared}, new String[] {"key-b", "key-a"}, buf,
                    new long[] {65536, 131072}, new long[] {4096, 4096});
            assertThat(got).containsExactly(MISMATCH, a.length);
            assertThat(read(65536, 4096)).containsOnly(0);
            assertThat(read(131072 + NamedBlock.headerLength(5), a.length)).isEqualTo(a);
            assertThat(c.statNamed(new BlockKey[] {shared, shared, new BlockKey(1, 1)},
                    new String[] {"key-a", "key-b", "key-a"})).containsExactly(a.length, MISMATCH, MISSING);
            assertThat(c.getNamed(one(shared), new String[] {"key-a"}, buf, new long[] {0}, new long[] {8}))
                    .containsExactly(TOO_LONG);
            assertThat(mismatches()).isEqualTo(3); // the put, the get and the stat of key-b

            // Read again: served from the lease cache on the event loop, compared all the same.
            double hits = fx.meter("ferry.sidecar.lease.cache.hits");
            write(65536, new byte[] {1, 2, 3, 4});
            assertThat(c.getNamed(new BlockKey[] {shared, shared}, new String[] {"key-b", "key-a"}, buf,
                    new long[] {65536, 131072}, new long[] {4096, 4096})).containsExactly(MISMATCH, a.length);
            assertThat(read(65536, 4096)).containsOnly(0);
            assertThat(fx.meter("ferry.sidecar.lease.cache.hits")).isGreaterThan(hits);
            assertThat(mismatches()).isEqualTo(4);
        }
    }

    @Test
    void aLargeBatchSplitAcrossTwoThreadsStoresEveryByteUnderItsName() throws IOException {
        int n = 6;
        long size = 800_003; // 4.8 MB in all: split in two halves
        try (SidecarClient c = fx.client(); ShmFile big = new ShmFile(16 << 20)) {
            int buf = c.registerBuffer(big.path, big.bytes);
            BlockKey[] keys = new BlockKey[n];
            String[] names = new String[n];
            long[] offsets = new long[n];
            long[] lengths = new long[n];
            for (int i = 0; i < n; i++) {
                keys[i] = new BlockKey(0xB16, i);
                names[i] = "large-" + i;
                offsets[i] = i * size;
                lengths[i] = size;
                dev.ferry.store.block.BlockContent.fill(900 + i, big.slice(offsets[i], size));
            }
            assertThat(c.putNamed(keys, names, buf, offsets, lengths)).containsOnly(0);
            assertThat(fx.meter("ferry.sidecar.copy.splits")).isEqualTo(1);

            long[] into = new long[n];
            long[] capacities = new long[n];
            long room = NamedBlock.headerLength(names[0].length()) + size;
            for (int i = 0; i < n; i++) {
                into[i] = 8_000_000 + i * room;
                capacities[i] = room;
            }
            assertThat(c.getNamed(keys, names, buf, into, capacities)).containsOnly(size);
            for (int i = 0; i < n; i++) {
                long at = into[i] + NamedBlock.headerLength(names[i].length());
                assertThat(big.slice(at, size).mismatch(big.slice(offsets[i], size))).as("value %d", i).isEqualTo(-1);
            }
        }
    }

    @Test
    void versionOneAndTwoClientsKeepWorkingAndSeeTheStoredLayout() {
        BlockKey key = new BlockKey(7, 7);
        byte[] value = "value".getBytes(StandardCharsets.UTF_8);
        try (SidecarClient v3 = fx.client(); SidecarClient v2 = fx.client(2); SidecarClient v1 = fx.client(1)) {
            int buf = v3.registerBuffer(shm.path, shm.bytes);
            write(0, value);
            assertThat(v3.putNamed(one(key), new String[] {"name"}, buf, new long[] {0}, new long[] {value.length}))
                    .containsExactly(0);
            byte[] block = v2.getInline(key)[0];
            assertThat(block).hasSize(NamedBlock.headerLength(4) + value.length);
            assertThat(new String(block, 0, 4, StandardCharsets.US_ASCII)).isEqualTo("FRK1");
            assertThat(new String(block, 16, 4, StandardCharsets.UTF_8)).isEqualTo("name");
            assertThat(new String(block, 20, value.length, StandardCharsets.UTF_8)).isEqualTo("value");
            assertThat(v2.exists(key)).containsExactly(true);
            assertThatThrownBy(() -> v2.statNamed(one(key), new String[] {"name"}))
                    .isInstanceOfSatisfying(SidecarException.class, e -> assertThat(e.status()).isEqualTo(UNKNOWN_OPCODE));
            assertThat(v1.exists(1)).containsExactly(false); // the connection serves on
            assertThat(v2.segmentName()).isEmpty(); // HELLO tells version 3 clients only
            assertThat(v3.segmentName()).endsWith("/dram");
            assertThat(v3.dataAddress()).matches("[^:]+:\\d+");
        }
    }

    @Test
    void removeByRegexTakesTheMatchingNamesOnly() {
        try (SidecarClient c = fx.client()) {
            int buf = c.registerBuffer(shm.path, shm.bytes);
            write(0, new byte[] {1, 2, 3});
            String[] names = {"user_session_1", "user_session_2", "system/prompt"};
            BlockKey[] keys = {new BlockKey(1, 1), new BlockKey(1, 2), new BlockKey(1, 3)};
            assertThat(c.putNamed(keys, names, buf, new long[3], new long[] {3, 3, 3})).containsOnly(0);
            assertThatThrownBy(() -> c.removeByRegex("[", false)).isInstanceOfSatisfying(SidecarException.class,
                    e -> assertThat(e.status()).isEqualTo(OUT_OF_RANGE));
            assertThat(c.removeByRegex("^user_session_.*", false)).isEqualTo(2);
            assertThat(c.exists(keys)).containsExactly(false, false, true);
        }
    }

    @Test
    void putOptionsOfVersionThreeSoftPinAndPreferASegmentByItsDataAddress() throws IOException {
        try (SidecarFixture second = new SidecarFixture(c -> c.master(fx.sidecar.masterAddress()));
             SidecarClient c = fx.client();
             SidecarClient other = second.client()) {
            int buf = c.registerBuffer(shm.path, shm.bytes);
            write(0, new byte[] {9, 9, 9});
            c.putOptions(1, false, 60_000, other.dataAddress());
            BlockKey key = new BlockKey(2, 2);
            assertThat(c.putNamed(one(key), new String[] {"pinned"}, buf, new long[1], new long[] {3}))
                    .containsExactly(0);
            Master master = fx.sidecar.embeddedMaster().master();
            Lease lease = master.get(one(key), 1_000);
            assertThat(lease.replicas().getFirst()).extracting(Replica::segment).containsExactly(other.segmentName());
            master.release(lease.id());
            assertThat(fx.masterStats().pinnedBlocks()).isEqualTo(1);
            assertThatThrownBy(() -> c.putOptions(1, false, -1, null)).isInstanceOfSatisfying(SidecarException.class,
                    e -> assertThat(e.status()).isEqualTo(OUT_OF_RANGE));

            // The other way, through a sidecar whose master is remote (RPC): to the first one's segment.
            try (ShmFile otherShm = new ShmFile(1 << 16)) {
                int otherBuf = other.registerBuffer(otherShm.path, otherShm.bytes);
                other.putOptions(1, false, 0, c.dataAddress());
                BlockKey back = new BlockKey(3, 3);
                assertThat(other.putNamed(one(back), new String[] {"back"}, otherBuf, new long[1], new long[] {3}))
                        .containsExactly(0);
                Lease l2 = master.get(one(back), 1_000);
                assertThat(l2.replicas().getFirst()).extracting(Replica::segment).containsExactly(c.segmentName());
                master.release(l2.id());
            }
        }
    }
}
