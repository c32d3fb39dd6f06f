package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class LeaseTableTest {
    private final LeaseTable table = new LeaseTable();

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
}
