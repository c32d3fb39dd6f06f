package dev.ferry.store.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.nativemem.device.DeviceChoice;
import dev.ferry.nativemem.device.DeviceKind;
import dev.ferry.nativemem.device.DeviceMemory;
import dev.ferry.nativemem.device.HostDeviceMemory;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The GPU tier's policy ({@link GpuBlockCache}) on host memory standing in for a GPU. */
class GpuBlockCacheTest {
    private static final long BLOCK = 16 * 1024;

    private final Arena arena = Arena.ofShared();
    private final DeviceMemory memory = new HostDeviceMemory(1 << 20);

    @AfterEach
    void free() {
        memory.close();
        arena.close();
    }

    private MemorySegment block(long key) {
        MemorySegment bytes = arena.allocate(BLOCK, 4096);
        BlockContent.fill(BlockKey.of(key), bytes);
        return bytes;
    }

    private static int crc(MemorySegment bytes) {
        return BlockContent.crc32c(bytes);
    }

    @Test
    void aLandedBlockIsCopiedBackDownIntoTheStagingRangeAndServedWhileItsCrcMatches() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, 4 * BLOCK)) {
            MemorySegment staging = block(1);
            int crc = crc(staging);
            cache.land(BlockKey.of(1), staging, crc);
            assertThat(cache.holds(BlockKey.of(1))).isTrue();
            assertThat(BlockContent.firstMismatch(BlockKey.of(1), staging)).isEqualTo(-1);

            MemorySegment out = arena.allocate(BLOCK, 4096);
            assertThat(cache.read(BlockKey.of(1), BLOCK, crc, out)).isTrue();
            assertThat(out.mismatch(staging)).isEqualTo(-1);
            assertThat(cache.read(BlockKey.of(2), BLOCK, crc, out)).isFalse();
            assertThat(cache.counters()).satisfies(c -> {
                assertThat(c.landed()).isEqualTo(1);
                assertThat(c.hits()).isEqualTo(1);
                assertThat(c.misses()).isEqualTo(1);
                assertThat(c.blocks()).isEqualTo(1);
            });
        }
    }

    @Test
    void aCopyWhoseCommittedCrcOrLengthDiffersIsDroppedNotServed() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, 4 * BLOCK)) {
            MemorySegment bytes = block(1);
            cache.promote(BlockKey.of(1), bytes, crc(bytes));
            MemorySegment out = arena.allocate(BLOCK, 4096);
            assertThat(cache.read(BlockKey.of(1), BLOCK, crc(bytes) + 1, out)).isFalse();
            assertThat(cache.holds(BlockKey.of(1))).isFalse();
            assertThat(cache.counters().stale()).isEqualTo(1);

            cache.promote(BlockKey.of(1), bytes, crc(bytes));
            assertThat(cache.read(BlockKey.of(1), BLOCK - 1, crc(bytes), out)).isFalse();
            assertThat(cache.holds(BlockKey.of(1))).isFalse();

            cache.promote(BlockKey.of(1), bytes, crc(bytes));
            cache.forget(BlockKey.of(1));
            assertThat(cache.holds(BlockKey.of(1))).isFalse();
            assertThat(cache.counters().stale()).isEqualTo(3);
        }
    }

    @Test
    void aWindowOfReadsServesTheValidCopiesAndDropsTheStaleOnes() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, 4 * BLOCK)) {
            MemorySegment one = block(1);
            MemorySegment two = block(2);
            cache.promote(BlockKey.of(1), one, crc(one));
            cache.promote(BlockKey.of(2), two, crc(two));
            BlockKey[] keys = BlockKey.ofAll(1, 2, 3);
            MemorySegment[] dst = {arena.allocate(BLOCK, 4096), arena.allocate(BLOCK, 4096), arena.allocate(BLOCK, 4096)};
            boolean[] served = new boolean[3];
            int count = cache.readAll(keys, new long[] {BLOCK, BLOCK, BLOCK}, new int[] {crc(one), crc(two) ^ 1, 0},
                    dst, served, 3);
            assertThat(count).isEqualTo(1);
            assertThat(served).containsExactly(true, false, false);
            assertThat(dst[0].mismatch(one)).isEqualTo(-1);
            assertThat(cache.holds(BlockKey.of(2))).isFalse();
            assertThat(cache.counters().hits()).isEqualTo(1);
            assertThat(cache.counters().misses()).isEqualTo(2);
        }
    }

    @Test
    void withBatchingAWindowOfPromotionsAndHitsMovesWithOneBatchedCopyEachAndKeepsEveryByte() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, 16 * BLOCK, null, CopyBatching.always(2))) {
            BlockKey[] keys = {BlockKey.of(1), BlockKey.of(2), BlockKey.of(3)};
            MemorySegment[] bytes = {block(1), block(2), block(3)};
            int[] crcs = {crc(bytes[0]), crc(bytes[1]), crc(bytes[2])};
            cache.promoteAll(keys, bytes, crcs, 3);
            assertThat(cache.counters().promoted()).isEqualTo(3);
            assertThat(cache.counters().batched()).isEqualTo(3);
            assertThat(cache.tierCounters().batches()).isEqualTo(1);

            MemorySegment[] dst = {arena.allocate(BLOCK, 4096), arena.allocate(BLOCK, 4096), arena.allocate(BLOCK, 4096)};
            boolean[] served = new boolean[3];
            int count = cache.readAll(new BlockKey[] {keys[2], null, keys[0]}, new long[] {BLOCK, BLOCK, BLOCK},
                    new int[] {crcs[2], 0, crcs[0]}, dst, served, 3);
            assertThat(count).isEqualTo(2);
            assertThat(served).containsExactly(true, false, true);
            assertThat(BlockContent.firstMismatch(keys[2], dst[0])).isEqualTo(-1);
            assertThat(BlockContent.firstMismatch(keys[0], dst[2])).isEqualTo(-1);
            assertThat(cache.counters().batched()).isEqualTo(5);
            assertThat(cache.tierCounters().batches()).isEqualTo(2);

            // One block is below the batching threshold: copied on its own.
            assertThat(cache.read(keys[1], BLOCK, crcs[1], dst[1])).isTrue();
            assertThat(BlockContent.firstMismatch(keys[1], dst[1])).isEqualTo(-1);
            assertThat(cache.counters().batched()).isEqualTo(5);
        }
    }

    @Test
    void withoutBatchingEveryBlockIsCopiedOnItsOwn() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, 16 * BLOCK, null, CopyBatching.NEVER)) {
            BlockKey[] keys = {BlockKey.of(1), BlockKey.of(2)};
            MemorySegment[] bytes = {block(1), block(2)};
            cache.promoteAll(keys, bytes, new int[] {crc(bytes[0]), crc(bytes[1])}, 2);
            assertThat(cache.holds(keys[0])).isTrue();
            assertThat(cache.holds(keys[1])).isTrue();
            assertThat(cache.counters().batched()).isZero();
            assertThat(cache.tierCounters().batches()).isZero();
        }
    }

    @Test
    void aBatchedPromotionIntoAFullTierEvictsTheColdestAndStillKeepsTheBlocks() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, 6 * BLOCK, null, CopyBatching.always(2))) {
            for (long k = 1; k <= 4; k++) {
                MemorySegment b = block(k);
                cache.land(BlockKey.of(k), b, crc(b));
            }
            BlockKey[] keys = {BlockKey.of(5), BlockKey.of(6)};
            MemorySegment[] bytes = {block(5), block(6)};
            cache.promoteAll(keys, bytes, new int[] {crc(bytes[0]), crc(bytes[1])}, 2);
            assertThat(cache.holds(keys[0])).isTrue();
            assertThat(cache.holds(keys[1])).isTrue();
            assertThat(cache.counters().batched()).isEqualTo(2);
            MemorySegment out = arena.allocate(BLOCK, 4096);
            assertThat(cache.read(keys[1], BLOCK, crc(bytes[1]), out)).isTrue();
            assertThat(out.mismatch(bytes[1])).isEqualTo(-1);
        }
    }

    @Test
    void theBatchingChoiceIsMeasuredOnTheEmptyTierAndLeavesItEmpty() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, 1 << 20, null, null)) {
            assertThat(cache.batching().minBlocks()).hasSize(CopyBatching.SIZES.length);
            assertThat(cache.batching().describe()).startsWith("batched copies: ").endsWith("never above");
            assertThat(cache.counters().blocks()).isZero();
            assertThat(cache.counters().usedBytes()).isZero();
            // 1 MiB holds 16 blocks of 16 KiB and their scratch, not of 64 KiB: the larger classes are never batched.
            assertThat(cache.tierCounters().puts()).as("the measurement's blocks").isEqualTo(16);
            assertThat(cache.batching().minBlocks()[1]).isEqualTo(Integer.MAX_VALUE);
            assertThat(cache.batching().minBlocks()[2]).isEqualTo(Integer.MAX_VALUE);
        }
    }

    @Test
    void aBatchingRuleAppliesByBlockSizeClassAndCount() {
        CopyBatching rule = new CopyBatching(new int[] {4, 16, Integer.MAX_VALUE});
        assertThat(rule.batched(4, 16 * 1024)).isTrue();
        assertThat(rule.batched(3, 16 * 1024)).isFalse();
        assertThat(rule.batched(8, 64 * 1024)).isFalse();
        assertThat(rule.batched(16, 64 * 1024)).isTrue();
        assertThat(rule.batched(64, 256 * 1024)).isFalse();
        assertThat(rule.batched(64, 1 << 20)).isFalse();
        assertThat(CopyBatching.always(1).batched(1, 1024)).as("one block is never a batch").isFalse();
        assertThat(rule.describe()).isEqualTo("batched copies: from 4 blocks up to 16 KiB, from 16 blocks up to 64 KiB, "
                + "never up to 256 KiB, never above");
    }

    @Test
    void underPressureTheLeastRecentlyUsedBlockIsEvictedFirst() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, 3 * BLOCK)) {
            for (long k = 1; k <= 3; k++) {
                MemorySegment b = block(k);
                cache.land(BlockKey.of(k), b, crc(b));
            }
            MemorySegment out = arena.allocate(BLOCK, 4096);
            assertThat(cache.read(BlockKey.of(1), BLOCK, crc(block(1)), out)).isTrue(); // 2 is now the coldest

            MemorySegment four = block(4);
            cache.promote(BlockKey.of(4), four, crc(four));
            assertThat(cache.holds(BlockKey.of(2))).isFalse();
            assertThat(cache.holds(BlockKey.of(1))).isTrue();
            assertThat(cache.holds(BlockKey.of(3))).isTrue();
            assertThat(cache.holds(BlockKey.of(4))).isTrue();
            assertThat(cache.counters().evicted()).isEqualTo(1);
        }
    }

    @Test
    void aBlockNotCopiedDownIsEvictedAfterTheCopiedDownOnes() {
        try (GpuTier<BlockKey> tier = new GpuTier<>(memory, 3 * BLOCK)) {
            // The order the cache evicts in: what DRAM holds goes first, however recently used.
            tier.put(BlockKey.of(1), block(1));
            tier.await(BlockKey.of(1));
            tier.put(BlockKey.of(2), block(2));
            tier.await(BlockKey.of(2));
            tier.markCopiedDown(BlockKey.of(2));
            assertThat(tier.evictable()).containsExactly(BlockKey.of(2), BlockKey.of(1));
        }
    }

    @Test
    void aFullTierKeepsNothingAndFailsNothing() {
        try (GpuBlockCache cache = new GpuBlockCache(memory, BLOCK)) {
            MemorySegment big = arena.allocate(2 * BLOCK, 4096);
            BlockContent.fill(BlockKey.of(9), big);
            MemorySegment before = arena.allocate(2 * BLOCK, 4096).copyFrom(big);
            cache.land(BlockKey.of(9), big, crc(big));
            assertThat(cache.holds(BlockKey.of(9))).isFalse();
            assertThat(big.mismatch(before)).isEqualTo(-1); // the put writes the bytes as produced
            cache.promote(BlockKey.of(9), big, crc(big));
            assertThat(cache.counters().full()).isEqualTo(2);
            assertThat(cache.counters().blocks()).isZero();
        }
    }

    @Test
    void openOnHostMemorySaysSoAndOwnsIt() {
        GpuBlockCache cache = GpuBlockCache.open(DeviceChoice.HOST, 4 * BLOCK);
        try {
            assertThat(cache.memory().kind()).isEqualTo(DeviceKind.HOST);
            assertThat(cache.memory().describe()).contains("host memory standing in for a GPU");
        } finally {
            cache.close();
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> cache.memory().freeBytes())
                .isInstanceOf(IllegalStateException.class);
    }
}
