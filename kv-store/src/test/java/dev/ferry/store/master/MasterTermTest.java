package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The state of one leader's term: commits of other terms' puts, and puts before any node registered. */
class MasterTermTest {
    private static final long BLOCK = 4096;
    private static final long NODE_TIMEOUT = 2_000_000_000L;
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    private Master term(long epoch) {
        return new Master(new LruPolicy(), now::get, NODE_TIMEOUT, 30_000_000_000L, epoch);
    }

    private static void register(Master m) {
        m.registerNode("a", new SegmentDescriptor("a/dram", 8 * BLOCK, new Endpoint("127.0.0.1", 1)));
    }

    @Test
    void aCommitOfAPutStartedInAnotherTermIsRefusedAsStaleAndTouchesNothing() {
        Master m = term(7);
        register(m);
        BlockKey[] keys = BlockKey.ofAll(1, 2);
        m.putStart(keys, BLOCK);
        assertThatThrownBy(() -> m.putCommit(keys, new int[] {5, 6}, 6))
                .isInstanceOfSatisfying(MasterException.class,
                        e -> assertThat(e.reason()).isEqualTo(MasterException.Reason.STALE_PUT))
                .hasMessageContaining("epoch 6").hasMessageContaining("epoch 7");
        assertThat(m.exists(keys)).containsOnly(false);
        assertThat(m.stats().pendingBlocks()).isEqualTo(2);
        m.putCommit(keys, new int[] {5, 6}, 7);
        assertThat(m.exists(keys)).containsOnly(true);
    }

    @Test
    void aNewLeaderAsksWritersToWaitForTheStoreNodesUntilTheNodeTimeout() {
        Master m = term(7);
        assertThatThrownBy(() -> m.putStart(BlockKey.ofAll(1), BLOCK))
                .isInstanceOfSatisfying(MasterException.class,
                        e -> assertThat(e.reason()).isEqualTo(MasterException.Reason.BUSY))
                .hasMessageContaining("no store node has registered with this leader yet");
        now.addAndGet(NODE_TIMEOUT);
        assertThatThrownBy(() -> m.putStart(BlockKey.ofAll(1), BLOCK))
                .isInstanceOfSatisfying(MasterException.class,
                        e -> assertThat(e.reason()).isEqualTo(MasterException.Reason.NO_SPACE));
    }

    @Test
    void aNewLeaderAsksReadersOfUnknownBlocksToWaitUntilTheNodeTimeout() {
        Master m = term(7);
        register(m);
        m.putStart(BlockKey.ofAll(1), BLOCK);
        m.putCommit(BlockKey.ofAll(1), new int[] {9}, 7);
        assertThat(m.get(BlockKey.ofAll(1), 1_000).replicas().getFirst()).hasSize(1);
        assertThatThrownBy(() -> m.get(BlockKey.ofAll(1, 2), 1_000))
                .isInstanceOfSatisfying(MasterException.class,
                        e -> assertThat(e.reason()).isEqualTo(MasterException.Reason.BUSY))
                .hasMessageContaining("block " + BlockKey.of(2) + " is unknown to this leader");
        assertThat(m.stats().leases()).as("the refused get leased nothing").isEqualTo(1);
        now.addAndGet(NODE_TIMEOUT);
        assertThat(m.get(BlockKey.ofAll(2), 1_000).replicas().getFirst()).isEmpty();
        assertThat(term(0).get(BlockKey.ofAll(2), 1_000).replicas().getFirst()).isEmpty();
    }

    @Test
    void aMasterWithoutEtcdRefusesAPutAtOnceWhenNoNodeIsRegistered() {
        assertThatThrownBy(() -> term(0).putStart(BlockKey.ofAll(1), BLOCK))
                .isInstanceOfSatisfying(MasterException.class,
                        e -> assertThat(e.reason()).isEqualTo(MasterException.Reason.NO_SPACE));
    }
}
