package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class MasterTest {
    private static final long BLOCK = 8192;
    private final AtomicLong now = new AtomicLong();
    private Master master;

    @BeforeEach
    void start() {
        master = new Master(new LruPolicy(), now::get, 1_000, 5_000);
        master.registerNode("a", new SegmentDescriptor("a/dram", 2 * BLOCK, new Endpoint("127.0.0.1", 1)));
        master.registerNode("b", new SegmentDescriptor("b/dram", 2 * BLOCK, new Endpoint("127.0.0.1", 2)));
    }

    private void put(long... keys) {
        List<Placement> placements = master.putStart(keys, BLOCK);
        long[] written = placements.stream().filter(p -> !p.exists()).mapToLong(Placement::key).toArray();
        master.putCommit(written, new int[written.length]);
    }

    @Test
    void blocksAreVisibleOnlyAfterCommit() {
        List<Placement> placements = master.putStart(new long[] {1, 2}, BLOCK);
        assertThat(placements).noneMatch(Placement::exists);
        assertThat(master.lookupPrefix(new long[] {1, 2})).isZero();
        assertThat(master.get(new long[] {1}, 1000).replicas()).containsOnlyNulls();
        master.putCommit(new long[] {1, 2}, new int[] {11, 22});
        assertThat(master.lookupPrefix(new long[] {1, 2, 3})).isEqualTo(2);
        Lease lease = master.get(new long[] {2, 3}, 1000);
        assertThat(lease.replicas().get(0).crc32c()).isEqualTo(22);
        assertThat(lease.replicas().get(1)).isNull();
    }

    @Test
    void placementSpreadsOverSegmentsAndExistingKeysAreNotRewritten() {
        List<Placement> placements = master.putStart(new long[] {1, 2}, BLOCK);
        assertThat(placements).extracting(Placement::segment).containsExactlyInAnyOrder("a/dram", "b/dram");
        master.putCommit(new long[] {1, 2}, new int[2]);
        assertThat(master.putStart(new long[] {1, 2}, BLOCK)).allMatch(Placement::exists);
    }

    @Test
    void evictsLeastRecentlyUsedButNeverALeasedBlock() {
        put(1, 2, 3, 4); // full: 4 blocks
        master.lookupPrefix(new long[] {1}); // 1 is now most recent
        Lease lease = master.get(new long[] {2}, 10_000);
        put(5); // evicts 3: 2 is leased, 1 was touched
        assertThat(master.lookupPrefix(new long[] {3})).isZero();
        assertThat(master.lookupPrefix(new long[] {2})).isEqualTo(1);
        assertThat(master.release(lease.id())).isTrue();
        assertThat(master.stats().evictions()).isEqualTo(1);
    }

    @Test
    void fullStoreWithNothingEvictableRefusesAndReleasesWhatItTook() {
        master.putStart(new long[] {1, 2, 3}, BLOCK); // pending, not evictable
        assertThatThrownBy(() -> master.putStart(new long[] {4, 5}, BLOCK))
                .isInstanceOf(RpcException.class).hasMessageContaining("no room")
                .extracting(e -> ((RpcException) e).status()).isEqualTo(RpcException.NO_SPACE);
        assertThat(master.stats().pendingBlocks()).isEqualTo(3);
    }

    @Test
    void abandonedPutIsReclaimedAndExpiredLeaseIsReported() {
        master.putStart(new long[] {1}, BLOCK);
        put(2);
        Lease lease = master.get(new long[] {2}, 1);
        now.addAndGet(6_000_000L); // past the lease, the put timeout, and the node timeout
        master.heartbeat("a");
        master.heartbeat("b");
        master.expire();
        assertThat(master.stats().pendingBlocks()).isZero();
        assertThat(master.release(lease.id())).isFalse();
    }

    @Test
    void deadNodeLosesItsBlocksAndMustRegisterAgain() {
        put(1, 2);
        now.addAndGet(2_000);
        master.heartbeat("b");
        assertThat(master.expire()).containsExactly("a");
        assertThat(master.stats().lostBlocks()).isEqualTo(1);
        assertThat(master.stats().blocks()).isEqualTo(1);
        assertThatThrownBy(() -> master.heartbeat("a")).hasMessageContaining("register again");
    }

    @Test
    void refusesAnotherNodeClaimingARegisteredSegment() {
        assertThatThrownBy(() -> master.registerNode("c", new SegmentDescriptor("a/dram", BLOCK,
                new Endpoint("127.0.0.1", 3)))).hasMessageContaining("already registered by node 'a'");
    }

    @Test
    void removeFreesCommittedBlocksKeepsLeasedOnesAndIgnoresPendingOnes() {
        put(1, 2);
        master.putStart(new long[] {3}, BLOCK);
        Lease lease = master.get(new long[] {2}, 10_000);
        assertThat(master.remove(new long[] {1, 2, 3, 4}))
                .containsExactly(Master.REMOVED, Master.LEASED, Master.NOT_FOUND, Master.NOT_FOUND);
        assertThat(master.lookupPrefix(new long[] {1})).isZero();
        assertThat(master.lookupPrefix(new long[] {2})).isEqualTo(1);
        assertThat(master.stats().usedBytes()).isEqualTo(2 * BLOCK);
        master.release(lease.id());
        assertThat(master.remove(new long[] {2})).containsExactly(Master.REMOVED);
    }

    @Test
    void blockLargerThanEverySegmentIsRefusedWithoutEvictingAnything() {
        put(1, 2);
        assertThatThrownBy(() -> master.putStart(new long[] {3}, Long.MAX_VALUE / 2))
                .isInstanceOfSatisfying(RpcException.class, e -> assertThat(e.status()).isEqualTo(RpcException.NO_SPACE));
        assertThat(master.lookupPrefix(new long[] {1, 2})).isEqualTo(2);
    }
}
