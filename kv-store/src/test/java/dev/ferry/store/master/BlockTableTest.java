package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import org.junit.jupiter.api.Test;

class BlockTableTest {
    private final Membership members = new Membership();
    private final BlockTable blocks = new BlockTable(new LruPolicy(), members, new IndexLog(members, 16));

    @Test
    void theSweepTakesOnlyPutsThatAreStillPendingInTheOrderTheyStarted() {
        BlockState first = blocks.start(BlockKey.of(1), 100, 10, 1);
        BlockState committed = blocks.start(BlockKey.of(2), 100, 20, 1);
        BlockState removed = blocks.start(BlockKey.of(3), 100, 30, 1);
        BlockState last = blocks.start(BlockKey.of(4), 100, 40, 1);
        blocks.commit(committed, 7);
        blocks.remove(BlockKey.of(3));
        assertThat(blocks.expiredPuts(start -> start <= 30)).containsExactly(first);
        assertThat(blocks.expiredPuts(start -> start <= 35)).isEmpty(); // stops at the first not due
        assertThat(blocks.expiredPuts(start -> true)).containsExactly(last);
        assertThat(blocks.get(BlockKey.of(2))).isSameAs(committed);
        assertThat(removed.committed).isFalse();
    }

    @Test
    void aKeyPutAgainAfterItsPutWasRemovedIsSweptOnlyOnce() {
        blocks.start(BlockKey.of(1), 100, 10, 1);
        blocks.remove(BlockKey.of(1));
        BlockState again = blocks.start(BlockKey.of(1), 100, 50, 1);
        assertThat(blocks.expiredPuts(start -> start <= 60)).containsExactly(again);
    }
}
