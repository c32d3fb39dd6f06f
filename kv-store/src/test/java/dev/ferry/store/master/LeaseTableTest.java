package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.eviction.LruPolicy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LeaseTableTest {
    private final LeaseTable table = new LeaseTable(new LruPolicy(), b -> true);

    @Test
    void expiresOnlyWhatIsPastItsDeadlineEarliestFirst() {
        LeaseState late = table.grant(List.of(), 300);
        LeaseState early = table.grant(List.of(), 100);
        LeaseState middle = table.grant(List.of(), 200);
        assertThat(table.expire(100)).isEmpty(); // a deadline is inclusive
        assertThat(table.expire(250)).containsExactly(early, middle);
        assertThat(table.size()).isEqualTo(1);
        assertThat(table.release(early.id)).isNull(); // expired already
        assertThat(table.release(late.id)).isSameAs(late);
        assertThat(table.expire(Long.MAX_VALUE)).isEmpty();
    }

    @Test
    void renewingMovesALeaseInTheDeadlineOrder() {
        LeaseState a = table.grant(List.of(), 100);
        LeaseState b = table.grant(List.of(), 200);
        assertThat(table.renew(a.id, 500)).isTrue();
        assertThat(table.expire(300)).containsExactly(b);
        assertThat(table.renew(b.id, 900)).isFalse(); // expired: renewing does not bring it back
        assertThat(table.expire(600)).containsExactly(a);
        assertThat(table.size()).isZero();
    }

    @Test
    void aReleasedLeaseNeverExpires() {
        LeaseState a = table.grant(List.of(), 100);
        assertThat(table.release(a.id)).isSameAs(a);
        assertThat(table.expire(1_000)).isEmpty();
    }

    @Test
    void theExpiryQueueKeepsTheOrderOfEqualTimesAndStopsAtTheFirstNotDue() {
        ExpiryQueue<String> queue = new ExpiryQueue<>();
        queue.add(5, "a");
        ExpiryQueue.Ticket b = queue.add(5, "b");
        queue.add(5, "c");
        queue.add(9, "d");
        queue.remove(b);
        queue.remove(b); // twice: nothing
        assertThat(queue.pollDue(t -> t < 9)).containsExactly("a", "c");
        assertThat(queue.size()).isEqualTo(1);
    }

    @Test
    void aLeasedOrHardPinnedBlockIsHeldOutOfTheVictimSearchUntilBothEnd() {
        LruPolicy lru = new LruPolicy();
        LeaseTable pins = new LeaseTable(lru, b -> true);
        BlockState old = new BlockState(BlockKey.of(1), 10, 0, 1);
        BlockState young = new BlockState(BlockKey.of(2), 10, 0, 1);
        lru.onInsert(BlockKey.of(1));
        lru.onInsert(BlockKey.of(2));
        LeaseState lease = pins.grant(List.of(old), 100);
        pins.lease(old);
        pins.pin(old, true, 0);
        List<BlockKey> asked = new ArrayList<>();
        assertThat(lru.victim(k -> asked.add(k))).isEqualTo(BlockKey.of(2));
        assertThat(asked).containsExactly(BlockKey.of(2));
        List<BlockState> ended = new ArrayList<>();
        pins.unlease(lease, ended::add);
        assertThat(ended).containsExactly(old);
        assertThat(lru.victim(k -> true)).isEqualTo(BlockKey.of(2)); // still hard-pinned
        pins.unpin(old);
        assertThat(lru.victim(k -> true)).isEqualTo(BlockKey.of(1)); // back in its place: the oldest
        pins.pin(young, false, 50);
        assertThat(young.softPinUntil).isEqualTo(50);
        pins.pin(young, false, 20);
        assertThat(young.softPinUntil).isEqualTo(50); // a soft pin is never shortened
        assertThat(lru.victim(k -> k.equals(BlockKey.of(2)))).isNotEqualTo(EvictionPolicy.NONE); // soft pins stay in the search
    }
}
