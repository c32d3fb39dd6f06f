package dev.ferry.store.eviction;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class S3FifoPolicyTest {
    /** A cache of block keys driven the way the master drives a policy (in-memory, for tests). */
    private static final class KeyCache {
        final NarrowKeys policy;
        final int capacity;
        final Set<Long> keys = new HashSet<>();
        final Set<Long> pinned = new HashSet<>();
        long hits;

        KeyCache(EvictionPolicy policy, int capacity) {
            this.policy = new NarrowKeys(policy);
            this.capacity = capacity;
        }

        void access(long key) {
            if (keys.contains(key)) {
                hits++;
                policy.onAccess(key);
                return;
            }
            if (keys.size() == capacity) {
                long victim = policy.victim(k -> !pinned.contains(k));
                assertThat(victim).isNotEqualTo(NarrowKeys.NONE);
                assertThat(keys).contains(victim);
                keys.remove(victim);
                policy.onRemove(victim);
            }
            keys.add(key);
            policy.onInsert(key);
        }
    }

    private static long hotHitsAfterScan(EvictionPolicy policy) {
        KeyCache cache = new KeyCache(policy, 20);
        for (int round = 0; round < 5; round++) {
            for (long hot = 0; hot < 10; hot++) {
                cache.access(hot);
            }
        }
        for (long cold = 1000; cold < 1200; cold++) {
            cache.access(cold); // a scan of one-time blocks
        }
        cache.hits = 0;
        for (long hot = 0; hot < 10; hot++) {
            cache.access(hot);
        }
        return cache.hits;
    }

    @Test
    void aScanOfOneTimeBlocksDoesNotFlushTheHotPrefixes() {
        assertThat(hotHitsAfterScan(new S3FifoPolicy())).isEqualTo(10);
        assertThat(hotHitsAfterScan(new LruPolicy())).isZero();
    }

    @Test
    void pinnedBlocksAreNeverChosenAndAllPinnedMeansNone() {
        NarrowKeys policy = new NarrowKeys(new S3FifoPolicy());
        for (long k = 0; k < 5; k++) {
            policy.onInsert(k);
        }
        assertThat(policy.victim(k -> k == 3)).isEqualTo(3);
        assertThat(policy.victim(k -> false)).isEqualTo(NarrowKeys.NONE);
    }

    @Test
    void aKeyEvictedFromTheSmallQueueComesBackIntoTheMainOne() {
        KeyCache cache = new KeyCache(new S3FifoPolicy(), 10);
        for (long k = 0; k < 30; k++) {
            cache.access(k);
        }
        // Key 0 was evicted early and is a ghost: reinserted, it survives the next flood.
        cache.access(0);
        for (long k = 100; k < 108; k++) {
            cache.access(k);
        }
        assertThat(cache.keys).contains(0L);
    }

    @Test
    void survivesRandomWorkloadsWithPins() {
        KeyCache cache = new KeyCache(new S3FifoPolicy(), 50);
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        for (int i = 0; i < 50_000; i++) {
            long key = random.nextInt(10) < 7 ? random.nextInt(40) : random.nextInt(100_000);
            cache.access(key);
            if (i % 1000 == 0) {
                cache.pinned.clear();
                cache.keys.stream().limit(10).forEach(cache.pinned::add);
            }
        }
        assertThat(cache.keys).hasSize(50);
        assertThat(cache.hits).isPositive();
    }
}
