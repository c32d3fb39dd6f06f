package dev.ferry.store.tier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import org.junit.jupiter.api.Test;

/** The tier's bookkeeping alone: what may be evicted, and what a failed step puts back. */
class TierIndexTest {
    private final TierIndex index = new TierIndex(new LruPolicy(), 200);

    private void store(long key, long length, int crc) throws InterruptedException {
        index.commitPut(index.beginPut(BlockKey.of(key), length, crc));
    }

    @Test
    void aBlockBeingReadIsNeverEvictedAndAPutThatCannotFitChangesNothing() throws Exception {
        store(1, 100, 11);
        store(2, 100, 22);
        TierIndex.Entry reading = index.beginRead(BlockKey.of(1), 100);
        assertThatThrownBy(() -> index.beginPut(BlockKey.of(3), 200, 33)).isInstanceOf(TierException.class)
                .hasMessageContaining("no room for block key " + BlockKey.of(3) + " of 200 bytes: 100 bytes more are held");
        assertThat(index.contains(BlockKey.of(1))).isTrue();
        assertThat(index.contains(BlockKey.of(2))).isTrue();
        assertThat(index.usedBytes()).isEqualTo(200);
        assertThat(index.blocks()).isEqualTo(2);
        index.endRead(reading);

        TierIndex.PutPlan plan = index.beginPut(BlockKey.of(3), 200, 33);
        assertThat(plan.victims()).extracting(StoredBlock::key).containsExactlyInAnyOrder(BlockKey.ofAll(1, 2));
        assertThat(index.contains(BlockKey.of(1))).isFalse();
        index.commitPut(plan);
        assertThat(index.blocks()).isEqualTo(1);
        assertThat(index.usedBytes()).isEqualTo(200);
    }

    @Test
    void aFailedReplacementRestoresTheOldBlockAndItsVictims() throws Exception {
        store(1, 100, 11);
        store(2, 100, 22);
        TierIndex.PutPlan plan = index.beginPut(BlockKey.of(1), 150, 99);
        assertThat(plan.replaced().crc32c()).isEqualTo(11);
        assertThat(plan.victims()).extracting(StoredBlock::key).containsExactly(BlockKey.ofAll(2));
        assertThat(index.contains(BlockKey.of(1))).isFalse(); // invisible while it is written
        index.abortPut(plan);
        assertThat(index.snapshot()).extracting(StoredBlock::key, StoredBlock::length, StoredBlock::crc32c)
                .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple(BlockKey.of(1), 100L, 11),
                        org.assertj.core.groups.Tuple.tuple(BlockKey.of(2), 100L, 22));
        assertThat(index.usedBytes()).isEqualTo(200);
    }

    @Test
    void theSameBlockAgainIsOnlyAnAccess() throws Exception {
        store(1, 100, 11);
        store(2, 100, 22);
        assertThat(index.beginPut(BlockKey.of(1), 100, 11).alreadyStored()).isTrue();
        // 1 was touched last: 2 is the least recently used now.
        assertThat(index.beginPut(BlockKey.of(3), 100, 33).victims()).extracting(StoredBlock::key).containsExactly(BlockKey.ofAll(2));
    }
}
