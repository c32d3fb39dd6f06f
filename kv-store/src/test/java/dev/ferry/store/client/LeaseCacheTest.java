package dev.ferry.store.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.Replica;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LeaseCacheTest {
    private final AtomicLong registrations = new AtomicLong();
    private final List<Long> released = new ArrayList<>();
    private final LeaseCache cache = new LeaseCache("me/dram", 5_000, 10_000, 3 * 4096, registrations::get,
            released::add);

    private static Lease lease(long id, String segment, long... keys) {
        List<List<Replica>> replicas = new ArrayList<>();
        for (long key : keys) {
            replicas.add(key < 0 ? List.of() : List.of(new Replica(BlockKey.of(key), segment, key * 4096, 4096, (int) key)));
        }
        return new Lease(id, 10_000, replicas);
    }

    @Test
    void keepsOnlyLeasesWhoseBlocksAreAllLocalAndInDram() {
        long askedAt = System.nanoTime(); // just now: only where the blocks are decides here
        assertThat(cache.offer(lease(1, "other/dram", 1), askedAt, 0)).isFalse();
        Lease mixed = new Lease(2, 10_000, List.of(List.of(new Replica(BlockKey.of(1), "me/dram", 0, 4096, 1)),
                List.of(new Replica(BlockKey.of(2), "other/dram", 0, 4096, 2))));
        assertThat(cache.offer(mixed, askedAt, 0)).isFalse();
        Lease loading = new Lease(3, 10_000, List.of(List.of(new Replica(BlockKey.of(1), "me/dram", 0, 4096, 1, "127.0.0.1:1"))));
        assertThat(cache.offer(loading, askedAt, 0)).isFalse();
        assertThat(cache.offer(lease(4, "me/dram", 1, -1, 2), System.nanoTime(), 0)).isTrue();
        assertThat(cache.size()).isEqualTo(2);
        LeaseCache.Entry e = cache.acquire(BlockKey.of(2), System.nanoTime());
        assertThat(e.length()).isEqualTo(4096);
        assertThat(cache.acquire(BlockKey.of(7), System.nanoTime())).isNull();
        cache.release(e);
        assertThat(released).isEmpty();
    }

    @Test
    void aLeaseGoesBackOnceNoEntryAndNoReaderNeedsIt() {
        cache.offer(lease(1, "me/dram", 1, 2), System.nanoTime(), 0);
        LeaseCache.Entry held = cache.acquire(BlockKey.of(1), System.nanoTime());
        cache.invalidate(BlockKey.ofAll(2)); // drops 1 as well: the lease pins both
        assertThat(cache.size()).isZero();
        cache.flush();
        assertThat(released).isEmpty(); // a reader still copies from block 1
        cache.release(held);
        assertThat(released).isEmpty(); // a release never calls the master (it may run on an event loop)
        cache.flush();
        assertThat(released).containsExactly(1L);
        cache.offer(lease(2, "me/dram", 3), System.nanoTime(), 0);
        cache.offer(lease(3, "me/dram", 3), System.nanoTime(), 0); // replaces lease 2's only entry
        assertThat(released).containsExactly(1L, 2L);
        cache.clear();
        assertThat(released).containsExactly(1L, 2L, 3L);
    }

    @Test
    void entriesLapseWithTheirLifetimeAndWithAReRegistrationOfTheNode() {
        long longAgo = System.nanoTime() - 6_000_000_000L;
        assertThat(cache.offer(lease(1, "me/dram", 1), longAgo, 0)).isFalse(); // asked for too long ago
        cache.offer(lease(2, "me/dram", 2), System.nanoTime(), 0);
        LeaseCache.Entry e = cache.acquire(BlockKey.of(2), System.nanoTime());
        assertThat(cache.stillValid(e, System.nanoTime())).isTrue();
        assertThat(cache.stillValid(e, System.nanoTime() + 5_000_000_000L)).isFalse(); // half the TTL
        registrations.incrementAndGet(); // the master forgot the node: nothing cached still holds
        assertThat(cache.stillValid(e, System.nanoTime())).isFalse();
        cache.release(e);
        assertThat(cache.acquire(BlockKey.of(2), System.nanoTime())).isNull();
        cache.flush();
        assertThat(released).containsExactly(2L);
        assertThat(cache.offer(lease(3, "me/dram", 3), System.nanoTime(), 0)).isFalse(); // asked before the change
    }

    @Test
    void pinsAtMostItsBytesAndSweepsStaleEntries() {
        assertThat(cache.offer(lease(1, "me/dram", 1, 2), System.nanoTime(), 0)).isTrue();
        assertThat(cache.offer(lease(2, "me/dram", 3, 4), System.nanoTime(), 0)).isFalse(); // 4 blocks > 3
        assertThat(cache.offer(lease(3, "me/dram", 1, 2, 3), System.nanoTime(), 0)).isTrue(); // replaces 1 and 2
        assertThat(released).containsExactly(1L);
        LeaseCache shortLived = new LeaseCache("me/dram", 1, 10_000, 4096, registrations::get, released::add);
        shortLived.offer(lease(4, "me/dram", 1), System.nanoTime(), 0);
        long until = System.nanoTime() + 2_000_000L;
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
        shortLived.sweep();
        assertThat(shortLived.size()).isZero();
        assertThat(released).containsExactly(1L, 4L);
    }

    @Test
    void refusesALifetimeBeyondHalfTheLeaseTtl() {
        assertThatThrownBy(() -> new LeaseCache("me/dram", 6_000, 10_000, 1, () -> 0, id -> { }))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("half the lease TTL");
    }
}
