package dev.ferry.store.tier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.eviction.EvictionPolicy;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rocksdb.RocksDBException;

/** The SSD tier on real RocksDB files in a temporary directory. */
class SsdTierTest {
    private static final long KIB64 = 64 * 1024;

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();
    private final List<Long> evicted = new ArrayList<>();

    @AfterEach
    void freeMemory() {
        arena.close();
    }

    private SsdTier open(long capacity, String policy) {
        return SsdTier.open(new SsdTier.Context().directory(dir).capacityBytes(capacity)
                .policy(EvictionPolicy.byName(policy)).ioThreads(2).writeBufferBytes(4L << 20)
                .evictionListener((key, bytes) -> {
                    synchronized (evicted) {
                        evicted.add(key.narrow());
                    }
                }));
    }

    private MemorySegment block(long key, long bytes) {
        MemorySegment s = arena.allocate(bytes, 4096);
        BlockContent.fill(key, s);
        return s;
    }

    private static void put(SsdTier tier, long key, MemorySegment bytes) {
        tier.put(BlockKey.of(key), bytes, BlockContent.crc32c(bytes)).join();
    }

    private void assertReadsBack(SsdTier tier, long key, long bytes) {
        MemorySegment dst = arena.allocate(bytes + 100);
        assertThat(tier.get(BlockKey.of(key), dst).join()).isEqualTo(bytes);
        assertThat(BlockContent.firstMismatch(key, dst.asSlice(0, bytes))).isEqualTo(-1);
    }

    private static Throwable cause(CompletableFuture<?> f) {
        try {
            f.join();
        } catch (CompletionException e) {
            return e.getCause();
        }
        throw new AssertionError("expected the future to fail");
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 64 * 1024, 1 << 20, 16 << 20})
    void putThenGetReturnsEveryByte(long bytes) {
        try (SsdTier tier = open(1L << 30, "lru")) {
            put(tier, 42, block(42, bytes));
            assertThat(tier.contains(BlockKey.of(42))).isTrue();
            assertThat(tier.blocks()).isEqualTo(1);
            assertThat(tier.usedBytes()).isEqualTo(bytes);
            assertReadsBack(tier, 42, bytes);
            assertThat(tier.corruptBlocks()).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 5L << 20, 655_360_000L, 3L << 30})
    void diskBytesForIsTheSmallestDiskThatHoldsThatManyBytesOfBlocks(long blockBytes) {
        long disk = SsdTier.diskBytesFor(blockBytes);
        assertThat(disk).isGreaterThan(blockBytes);
        try (SsdTier tier = SsdTier.open(new SsdTier.Context().directory(dir.resolve("fits")).diskBytes(disk)
                .policy(EvictionPolicy.byName("lru")))) {
            assertThat(tier.capacityBytes()).isGreaterThanOrEqualTo(blockBytes);
        }
        SsdTier.Context shorter = new SsdTier.Context().directory(dir.resolve("short")).diskBytes(disk - 1)
                .policy(EvictionPolicy.byName("lru"));
        if (blockBytes == 1) {
            assertThatThrownBy(() -> SsdTier.open(shorter)).hasMessageContaining("leaves no room for blocks");
            return;
        }
        try (SsdTier tier = SsdTier.open(shorter)) {
            assertThat(tier.capacityBytes()).isLessThan(blockBytes);
        }
    }

    @Test
    void unknownKeyFailsClearly() {
        try (SsdTier tier = open(1L << 20, "lru")) {
            assertThat(cause(tier.get(BlockKey.of(7), arena.allocate(16))))
                    .isInstanceOf(UnknownBlockException.class).hasMessageContaining("block key " + BlockKey.of(7) + " is not in the SSD tier");
        }
    }

    @Test
    void shortDestinationIsRefusedAndTheBlockStays() {
        try (SsdTier tier = open(1L << 20, "lru")) {
            put(tier, 1, block(1, KIB64));
            assertThat(cause(tier.get(BlockKey.of(1), arena.allocate(KIB64 - 1))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("destination of 65535 bytes cannot hold block key " + BlockKey.of(1) + " of 65536 bytes");
            assertReadsBack(tier, 1, KIB64);
        }
    }

    @Test
    void badInputIsRefusedAndNothingIsStored() {
        try (SsdTier tier = open(4 * KIB64, "lru")) {
            assertThatThrownBy(() -> tier.put(BlockKey.of(1), block(1, 4 * KIB64 + 1), 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("larger than the SSD tier's capacity of 262144 bytes");
            assertThatThrownBy(() -> tier.put(BlockKey.of(1), MemorySegment.ofArray(new byte[10]), 0))
                    .hasMessageContaining("off-heap memory only");
            assertThatThrownBy(() -> tier.put(BlockKey.of(1), arena.allocate(0), 0)).hasMessageContaining("a block has 1 to");
            MemorySegment bytes = block(1, KIB64);
            assertThat(cause(tier.put(BlockKey.of(1), bytes, BlockContent.crc32c(bytes) + 1)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nothing stored");
            assertThat(tier.contains(BlockKey.of(1))).isFalse();
            assertThat(tier.usedBytes()).isZero();
        }
    }

    @Test
    void lruEvictsTheLeastRecentlyUsedAndTellsTheListener() {
        assertThat(scanEvictions("lru")).containsExactly(0L, 1L, 2L);
    }

    @Test
    void s3FifoKeepsHotBlocksThroughAScan() {
        assertThat(scanEvictions("s3fifo")).containsExactly(2L, 3L, 4L);
    }

    /** Capacity of 4 blocks: blocks 0 and 1 are read, then 2..6 are put once each. */
    private List<Long> scanEvictions(String policy) {
        try (SsdTier tier = open(4 * KIB64, policy)) {
            for (long key = 0; key < 2; key++) {
                put(tier, key, block(key, KIB64));
            }
            tier.get(BlockKey.of(0), arena.allocate(KIB64)).join();
            tier.get(BlockKey.of(1), arena.allocate(KIB64)).join();
            for (long key = 2; key <= 6; key++) {
                put(tier, key, block(key, KIB64));
                assertThat(tier.usedBytes()).isLessThanOrEqualTo(tier.capacityBytes());
            }
            assertThat(tier.blocks()).isEqualTo(4);
            for (BlockKey key : tier.keys()) {
                assertReadsBack(tier, key.narrow(), KIB64);
            }
            evicted.forEach(key -> assertThat(tier.contains(BlockKey.of(key))).isFalse());
            return List.copyOf(evicted);
        }
    }

    @Test
    void samePutIsAnAccessAndNewBytesReplaceTheBlock() {
        try (SsdTier tier = open(1L << 20, "lru")) {
            put(tier, 5, block(5, KIB64));
            put(tier, 5, block(5, KIB64));
            assertThat(tier.blocks()).isEqualTo(1);
            MemorySegment other = block(6, 2 * KIB64);
            put(tier, 5, other);
            MemorySegment dst = arena.allocate(2 * KIB64);
            assertThat(tier.get(BlockKey.of(5), dst).join()).isEqualTo(2 * KIB64);
            assertThat(dst.mismatch(other)).isEqualTo(-1);
            assertThat(tier.usedBytes()).isEqualTo(2 * KIB64);
        }
    }

    @Test
    void removeDeletesWithoutTellingTheListener() {
        try (SsdTier tier = open(1L << 20, "lru")) {
            put(tier, 3, block(3, KIB64));
            assertThat(tier.remove(BlockKey.of(3))).isTrue();
            assertThat(tier.remove(BlockKey.of(3))).isFalse();
            assertThat(tier.usedBytes()).isZero();
            assertThat(cause(tier.get(BlockKey.of(3), arena.allocate(KIB64)))).isInstanceOf(UnknownBlockException.class);
            assertThat(evicted).isEmpty();
        }
        try (SsdTier tier = open(1L << 20, "lru")) {
            assertThat(tier.blocks()).isZero();
        }
    }

    @Test
    void reopenFindsEveryBlockAndItsRecency() {
        long[] sizes = {1, 5000, KIB64, 1 << 20};
        try (SsdTier tier = open(4L << 20, "lru")) {
            for (int key = 0; key < sizes.length; key++) {
                put(tier, key, block(key, sizes[key]));
            }
            tier.get(BlockKey.of(0), arena.allocate(1)).join();
        }
        try (SsdTier tier = open(4L << 20, "lru")) {
            assertThat(tier.blocks()).isEqualTo(4);
            assertThat(tier.usedBytes()).isEqualTo(1 + 5000 + KIB64 + (1 << 20));
            List<StoredBlock> found = new ArrayList<>();
            tier.forEach(found::add);
            // Oldest access first: block 0 was read last.
            assertThat(found).extracting(StoredBlock::key).containsExactly(BlockKey.ofAll(1, 2, 3, 0));
            for (StoredBlock b : found) {
                assertThat(b.length()).isEqualTo(sizes[(int) b.key().narrow()]);
                assertThat(b.crc32c()).isEqualTo(BlockContent.crc32c(block(b.key().narrow(), b.length())));
                assertReadsBack(tier, b.key().narrow(), b.length());
            }
        }
    }

    @Test
    void blockBytesLiveInBlobFiles() throws Exception {
        try (SsdTier tier = open(64L << 20, "lru")) {
            for (long key = 0; key < 8; key++) {
                put(tier, key, block(key, 1 << 20)); // 8 MiB through a 4 MiB write buffer: flushed
            }
        }
        try (var files = java.nio.file.Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).anyMatch(name -> name.endsWith(".blob"));
        }
        try (SsdTier tier = open(64L << 20, "lru")) {
            for (long key = 0; key < 8; key++) {
                assertReadsBack(tier, key, 1 << 20);
            }
        }
    }

    @Test
    void reopenSmallerEvictsDownToTheCapacity() {
        try (SsdTier tier = open(4 * KIB64, "lru")) {
            for (long key = 0; key < 4; key++) {
                put(tier, key, block(key, KIB64));
            }
        }
        try (SsdTier tier = open(2 * KIB64, "lru")) {
            assertThat(tier.keys()).containsExactly(BlockKey.ofAll(2, 3));
            assertThat(tier.usedBytes()).isEqualTo(2 * KIB64);
        }
    }

    @Test
    void blocksSurviveTheDeathOfTheProcess() throws Exception {
        int count = 6;
        long bytes = 1 << 20;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), CrashingWriter.class.getName(),
                dir.toString(), Integer.toString(count), Long.toString(bytes))
                .redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            List<String> lines = new ArrayList<>();
            String line;
            while ((line = out.readLine()) != null && !line.equals(CrashingWriter.DONE)) {
                lines.add(line);
            }
            assertThat(line).as("child output: %s", lines).isEqualTo(CrashingWriter.DONE);
            child.destroyForcibly(); // SIGKILL: no close, no flush
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            child.destroyForcibly();
        }
        try (SsdTier tier = open(1L << 30, "lru")) {
            assertThat(tier.blocks()).isEqualTo(count);
            for (long key = 0; key < count; key++) {
                assertReadsBack(tier, key, bytes);
            }
        }
    }

    @Test
    void corruptBytesAreDroppedAndReportedNeverReturned() throws RocksDBException {
        try (SsdTier tier = open(1L << 20, "lru")) {
            put(tier, 1, block(1, KIB64));
            put(tier, 2, block(2, KIB64));
        }
        try (SsdRocksDb raw = SsdRocksDb.open(dir, 4L << 20)) {
            byte[] value = raw.db().get(raw.blocks(), MetaRecord.key(BlockKey.of(1)));
            value[1000] ^= 0x10;
            raw.db().put(raw.blocks(), MetaRecord.key(BlockKey.of(1)), value);
        }
        try (SsdTier tier = open(1L << 20, "lru")) {
            assertThat(cause(tier.get(BlockKey.of(1), arena.allocate(KIB64)))).isInstanceOf(CorruptBlockException.class)
                    .hasMessageContaining("block key " + BlockKey.of(1) + " is corrupt").hasMessageContaining("CRC32C");
            assertThat(tier.corruptBlocks()).isEqualTo(1);
            assertThat(tier.contains(BlockKey.of(1))).isFalse();
            assertThat(tier.usedBytes()).isEqualTo(KIB64);
            assertThat(cause(tier.get(BlockKey.of(1), arena.allocate(KIB64)))).isInstanceOf(UnknownBlockException.class);
            assertReadsBack(tier, 2, KIB64);
        }
        try (SsdTier tier = open(1L << 20, "lru")) {
            assertThat(tier.keys()).containsExactly(BlockKey.ofAll(2));
        }
    }

    @Test
    void wrongMetadataIsDroppedOnReadAndMalformedMetadataOnOpen() throws RocksDBException {
        try (SsdTier tier = open(1L << 20, "lru")) {
            put(tier, 1, block(1, KIB64));
            put(tier, 2, block(2, KIB64));
            put(tier, 3, block(3, KIB64));
        }
        try (SsdRocksDb raw = SsdRocksDb.open(dir, 4L << 20)) {
            StoredBlock one = MetaRecord.decode(BlockKey.of(1), raw.db().get(raw.meta(), MetaRecord.key(BlockKey.of(1))));
            raw.db().put(raw.meta(), MetaRecord.key(BlockKey.of(1)), MetaRecord.encode(
                    new StoredBlock(BlockKey.of(1), one.length(), one.crc32c() ^ 1, one.lastAccessMicros())));
            raw.db().put(raw.meta(), MetaRecord.key(BlockKey.of(2)), new byte[3]);
        }
        try (SsdTier tier = open(1L << 20, "lru")) {
            assertThat(tier.corruptBlocks()).isEqualTo(1); // block 2's record, at open
            assertThat(tier.keys()).containsExactlyInAnyOrder(BlockKey.ofAll(1, 3));
            assertThat(cause(tier.get(BlockKey.of(1), arena.allocate(KIB64)))).isInstanceOf(CorruptBlockException.class);
            assertThat(tier.corruptBlocks()).isEqualTo(2);
            assertThat(tier.keys()).containsExactly(BlockKey.ofAll(3));
            assertReadsBack(tier, 3, KIB64);
        }
    }

    @Test
    void concurrentPutsAndGetsKeepEveryBlockIntactWithinTheCapacity() throws Exception {
        int threads = 4;
        int perThread = 24;
        long bytes = 96 * 1024;
        long capacity = 40 * bytes;
        Set<Long> failures = java.util.concurrent.ConcurrentHashMap.newKeySet();
        ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (SsdTier tier = open(capacity, "s3fifo")) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    MemorySegment dst = arena.allocate(bytes);
                    for (int i = 0; i < perThread; i++) {
                        long key = thread * 1000L + i;
                        put(tier, key, block(key, bytes));
                        for (long other = key; other > key - 5 && other >= thread * 1000L; other--) {
                            try {
                                tier.get(BlockKey.of(other), dst).join();
                                if (BlockContent.firstMismatch(other, dst) != -1) {
                                    errors.add("block " + other + " read back wrong");
                                }
                            } catch (CompletionException e) {
                                if (!(e.getCause() instanceof UnknownBlockException)) { // evicted meanwhile: fine
                                    failures.add(other);
                                    errors.add(e.getCause().toString());
                                }
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(2, TimeUnit.MINUTES);
            }
            assertThat(errors).isEmpty();
            assertThat(failures).isEmpty();
            assertThat(tier.usedBytes()).isLessThanOrEqualTo(capacity);
            assertThat(tier.blocks()).isEqualTo(40);
            Set<Long> all = new HashSet<>();
            for (BlockKey key : tier.keys()) {
                assertReadsBack(tier, key.narrow(), bytes);
                all.add(key.narrow());
            }
            synchronized (evicted) {
                assertThat(evicted).doesNotHaveDuplicates().doesNotContainAnyElementsOf(all);
                all.addAll(evicted);
            }
            assertThat(all).hasSize(threads * perThread);
            assertThat(tier.corruptBlocks()).isZero();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void closedTierRefusesCallsAndContextErrorsAreClear() {
        SsdTier tier = open(1L << 20, "lru");
        tier.close();
        tier.close();
        assertThatThrownBy(() -> tier.get(BlockKey.of(1), arena.allocate(8))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> SsdTier.open(dir, 0, EvictionPolicy.byName("lru"), 1))
                .hasMessageContaining("capacity must be at least 1 byte");
        assertThatThrownBy(() -> SsdTier.open(new SsdTier.Context().directory(dir).capacityBytes(10)))
                .hasMessageContaining("no eviction policy");
    }
}
