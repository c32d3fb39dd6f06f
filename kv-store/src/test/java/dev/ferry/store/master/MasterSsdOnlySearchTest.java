package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/** A search for a DRAM victim meets only DRAM blocks, however many blocks are only on SSD. */
class MasterSsdOnlySearchTest {
    private static final long BLOCK = 8192;
    private static final int DRAM_BLOCKS = 4;
    private static final int SSD_ONLY_BLOCKS = 1000;

    /** An LRU policy (and its siblings) that counts how many blocks its victim searches ask about. */
    private static final class CountingLruPolicy implements EvictionPolicy {
        private final EvictionPolicy lru;
        private final long[] asked;

        CountingLruPolicy() {
            this(new LruPolicy(), new long[1]);
        }

        private CountingLruPolicy(EvictionPolicy lru, long[] asked) {
            this.lru = lru;
            this.asked = asked;
        }

        long asked() {
            return asked[0];
        }

        @Override
        public void onInsert(BlockKey key) {
            lru.onInsert(key);
        }

        @Override
        public void onAccess(BlockKey key) {
            lru.onAccess(key);
        }

        @Override
        public void onRemove(BlockKey key) {
            lru.onRemove(key);
        }

        @Override
        public void onHeld(BlockKey key) {
            lru.onHeld(key);
        }

        @Override
        public void onEvictable(BlockKey key) {
            lru.onEvictable(key);
        }

        @Override
        public BlockKey victim(Predicate<BlockKey> evictable) {
            return lru.victim(k -> {
                asked[0]++;
                return evictable.test(k);
            });
        }

        @Override
        public EvictionPolicy sibling() {
            return new CountingLruPolicy(lru.sibling(), asked);
        }

        @Override
        public void moveTo(BlockKey key, EvictionPolicy to) {
            lru.moveTo(key, ((CountingLruPolicy) to).lru);
        }
    }

    @Test
    void aPutIntoFullDramDoesNotWalkPastTheBlocksOnlyOnSsd() {
        CountingLruPolicy policy = new CountingLruPolicy();
        Master master = new Master(policy, () -> 0, 10_000_000_000L, 50_000_000_000L);
        List<IndexedBlock> kept = new ArrayList<>();
        for (long k = 1; k <= SSD_ONLY_BLOCKS; k++) {
            kept.add(new IndexedBlock(BlockKey.ofAll(100_000 + k)[0], IndexedBlock.ON_SSD, BLOCK, 0));
        }
        assertThat(master.registerNode("s", new SegmentDescriptor("s/dram", DRAM_BLOCKS * BLOCK,
                new Endpoint("127.0.0.1", 1)), new NodeFeatures(false, 2 * SSD_ONLY_BLOCKS * BLOCK, "127.0.0.1:9"),
                kept)).isEqualTo(SSD_ONLY_BLOCKS);
        master.heartbeat("s", NodeReport.ack(0).withSsd(SsdHealth.FULL)); // no demotion: a put evicts at once
        for (long k = 1; k <= DRAM_BLOCKS; k++) {
            master.putStart(BlockKey.ofAll(k), BLOCK);
            master.putCommit(BlockKey.ofAll(k), new int[] {0});
        }
        long before = policy.asked();

        master.putStart(BlockKey.ofAll(DRAM_BLOCKS + 1), BLOCK);

        // No DRAM copy is also on SSD: one search, for any DRAM copy, among the DRAM blocks only.
        assertThat(policy.asked() - before).isPositive().isLessThanOrEqualTo(DRAM_BLOCKS);
        assertThat(master.stats().evictions()).isEqualTo(1);
        assertThat(master.lookupPrefix(BlockKey.ofAll(1))).as("the coldest DRAM block was evicted").isZero();
        assertThat(master.stats().ssdBlocks()).isEqualTo(SSD_ONLY_BLOCKS);
    }

    @Test
    void aPromotedBlockIsBackAmongTheDramVictimsAndLeavesThemWhenItsDramIsFreed() {
        Master master = new Master(new LruPolicy(), () -> 0, 10_000_000_000L, 50_000_000_000L);
        master.registerNode("s", new SegmentDescriptor("s/dram", DRAM_BLOCKS * BLOCK, new Endpoint("127.0.0.1", 1)),
                new NodeFeatures(false, 1000 * BLOCK, "127.0.0.1:9"), List.of());
        for (long k = 1; k <= DRAM_BLOCKS; k++) {
            master.putStart(BlockKey.ofAll(k), BLOCK);
            master.putCommit(BlockKey.ofAll(k), new int[] {(int) k});
        }
        master.expire(); // DRAM full: 1 and 2, the coldest, are demoted
        assertThat(master.heartbeat("s", 0)).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(1, 2));
        master.heartbeat("s", new NodeReport(2, BlockKey.ofAll(1, 2), new BlockKey[0], new BlockKey[0]));
        Lease lease = master.get(BlockKey.ofAll(1), 1_000); // promoted: a DRAM copy again, also on SSD
        master.heartbeat("s", new NodeReport(2, new BlockKey[0], BlockKey.ofAll(1), new BlockKey[0]));
        master.release(lease.id());
        master.heartbeat("s", NodeReport.ack(2).withSsd(SsdHealth.FULL)); // no more demotion
        master.putStart(BlockKey.ofAll(5), BLOCK);
        master.putCommit(BlockKey.ofAll(5), new int[] {5});

        // DRAM is full: the DRAM copy that is also on SSD goes first, though 3 is colder.
        master.putStart(BlockKey.ofAll(6), BLOCK);
        master.putCommit(BlockKey.ofAll(6), new int[] {6});
        assertThat(master.stats().evictions()).isZero();
        assertThat(master.stats().ssdBlocks()).isEqualTo(2);
        assertThat(master.lookupPrefix(BlockKey.ofAll(3, 4))).isEqualTo(2);
        assertThat(master.stats().ssdHits()).isZero();

        // Now only on SSD again, 1 is no DRAM victim: the coldest DRAM block, 5, is evicted.
        master.putStart(BlockKey.ofAll(7), BLOCK);
        assertThat(master.stats().evictions()).isEqualTo(1);
        assertThat(master.lookupPrefix(BlockKey.ofAll(5))).isZero();
        assertThat(master.lookupPrefix(BlockKey.ofAll(1))).isEqualTo(1);
        assertThat(master.stats().ssdHits()).isEqualTo(1);
    }
}
