package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.tier.SsdHealth;
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
        List<Placement> placements = master.putStart(BlockKey.ofAll(keys), BLOCK);
        BlockKey[] written = placements.stream().filter(p -> !p.exists()).map(Placement::key).toArray(BlockKey[]::new);
        master.putCommit(written, new int[written.length]);
    }

    @Test
    void blocksAreVisibleOnlyAfterCommit() {
        List<Placement> placements = master.putStart(BlockKey.ofAll(1, 2), BLOCK);
        assertThat(placements).noneMatch(Placement::exists);
        assertThat(master.lookupPrefix(BlockKey.ofAll(1, 2))).isZero();
        assertThat(master.get(BlockKey.ofAll(1), 1000).replicas()).allMatch(List::isEmpty);
        master.putCommit(BlockKey.ofAll(1, 2), new int[] {11, 22});
        assertThat(master.lookupPrefix(BlockKey.ofAll(1, 2, 3))).isEqualTo(2);
        Lease lease = master.get(BlockKey.ofAll(2, 3), 1000);
        assertThat(lease.replicas().get(0).getFirst().crc32c()).isEqualTo(22);
        assertThat(lease.replicas().get(1)).isEmpty();
    }

    @Test
    void placementSpreadsOverSegmentsAndExistingKeysAreNotRewritten() {
        List<Placement> placements = master.putStart(BlockKey.ofAll(1, 2), BLOCK);
        assertThat(placements).extracting(Placement::segment).containsExactlyInAnyOrder("a/dram", "b/dram");
        master.putCommit(BlockKey.ofAll(1, 2), new int[2]);
        assertThat(master.putStart(BlockKey.ofAll(1, 2), BLOCK)).allMatch(Placement::exists);
    }

    @Test
    void evictsLeastRecentlyUsedButNeverALeasedBlock() {
        put(1, 2, 3, 4); // full: 4 blocks
        master.lookupPrefix(BlockKey.ofAll(1)); // 1 is now most recent
        Lease lease = master.get(BlockKey.ofAll(2), 10_000);
        put(5); // evicts 3: 2 is leased, 1 was touched
        assertThat(master.lookupPrefix(BlockKey.ofAll(3))).isZero();
        assertThat(master.lookupPrefix(BlockKey.ofAll(2))).isEqualTo(1);
        assertThat(master.release(lease.id())).isTrue();
        assertThat(master.stats().evictions()).isEqualTo(1);
    }

    @Test
    void leasedAndPinnedBlocksKeepTheirPlaceInTheLruOrderOnceTheyAreEvictableAgain() {
        put(1, 2, 3, 4); // 1 is the least recently used
        Lease lease = master.get(BlockKey.ofAll(1), 1_000);
        master.pin(BlockKey.ofAll(2), true, 0);
        put(5);
        assertThat(master.exists(BlockKey.ofAll(1, 2, 3, 4, 5))).containsExactly(true, true, false, true, true);
        assertThat(master.release(lease.id())).isTrue();
        master.unpin(BlockKey.ofAll(2));
        put(6);
        assertThat(master.exists(BlockKey.ofAll(1))).containsExactly(false); // back at the oldest end
        put(7);
        assertThat(master.exists(BlockKey.ofAll(2))).containsExactly(false);
        put(8);
        assertThat(master.exists(BlockKey.ofAll(4, 5, 6, 7, 8))).containsExactly(false, true, true, true, true);
    }

    @Test
    void endingALeaseOfALostBlockLeavesTheNewBlockOfThatKeyLeased() {
        master.putStart(BlockKey.ofAll(1), BLOCK, 1, "a/dram");
        master.putCommit(BlockKey.ofAll(1), new int[] {11});
        Lease old = master.get(BlockKey.ofAll(1), 10_000);
        master.declareDead("a/dram"); // block 1 is lost with its only copy
        put(1); // a new block takes the key, on b
        Lease reader = master.get(BlockKey.ofAll(1), 10_000);
        assertThat(master.release(old.id())).isTrue();
        assertThat(master.remove(BlockKey.ofAll(1))).containsExactly(Master.LEASED); // still pinned by reader
        assertThat(master.release(reader.id())).isTrue();
        assertThat(master.remove(BlockKey.ofAll(1))).containsExactly(Master.REMOVED);
    }

    @Test
    void fullStoreWithNothingEvictableRefusesAndReleasesWhatItTook() {
        master.putStart(BlockKey.ofAll(1, 2, 3), BLOCK); // pending, not evictable
        assertThatThrownBy(() -> master.putStart(BlockKey.ofAll(4, 5), BLOCK))
                .isInstanceOf(MasterException.class).hasMessageContaining("no room")
                .extracting(e -> ((MasterException) e).reason()).isEqualTo(MasterException.Reason.NO_SPACE);
        assertThat(master.stats().pendingBlocks()).isEqualTo(3);
    }

    @Test
    void abandonedPutIsReclaimedAndExpiredLeaseIsReported() {
        master.putStart(BlockKey.ofAll(1), BLOCK);
        put(2);
        Lease lease = master.get(BlockKey.ofAll(2), 1);
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
    void replicasLandOnDifferentNodesAndSurviveOneNodeDeath() {
        List<Placement> placements = master.putStart(BlockKey.ofAll(7), BLOCK, 2, "b/dram");
        assertThat(placements).extracting(Placement::segment).containsExactly("b/dram", "a/dram");
        master.putCommit(BlockKey.ofAll(7), new int[] {77});
        assertThat(master.get(BlockKey.ofAll(7), 1000).replicas().getFirst()).extracting(Replica::segment)
                .containsExactly("b/dram", "a/dram");
        assertThat(master.stats().underReplicated()).isZero();

        master.declareDead("b/dram");
        assertThat(master.stats().lostBlocks()).isZero();
        assertThat(master.stats().underReplicated()).isEqualTo(1);
        assertThat(master.get(BlockKey.ofAll(7), 1000).replicas().getFirst()).extracting(Replica::segment)
                .containsExactly("a/dram");
    }

    @Test
    void moreReplicasThanNodesPlacesOnePerNodeAndReportsTheShortfall() {
        assertThat(master.putStart(BlockKey.ofAll(1), BLOCK, 3, null)).hasSize(2);
        master.putCommit(BlockKey.ofAll(1), new int[1]);
        assertThat(master.stats().underReplicated()).isEqualTo(1);
        assertThat(master.stats().usedBytes()).isEqualTo(2 * BLOCK);
    }

    @Test
    void hardPinsAreNeverEvictedAndSoftPinsOnlyUntilTheirDeadline() {
        put(1, 2, 3, 4);
        assertThat(master.pin(BlockKey.ofAll(1), true, 0)).isEqualTo(1);
        assertThat(master.pin(BlockKey.ofAll(2, 99), false, 1_000)).isEqualTo(1);
        put(5); // 1 and 2 are protected: 3 goes
        assertThat(master.exists(BlockKey.ofAll(1, 2, 3))).containsExactly(true, true, false);
        now.addAndGet(2_000_000_000L); // past the soft pin
        master.heartbeat("a");
        master.heartbeat("b");
        put(6); // least recent evictable is now 2
        assertThat(master.exists(BlockKey.ofAll(1, 2))).containsExactly(true, false);
        assertThat(master.stats().pinnedBlocks()).isEqualTo(1);
        master.unpin(BlockKey.ofAll(1));
        put(7);
        assertThat(master.exists(BlockKey.ofAll(1))).containsExactly(false);
    }

    @Test
    void softPinnedBlocksAreEvictedOnlyWhenNoUnpinnedOneCanBe() {
        put(1, 2, 3, 4); // full
        assertThat(master.pin(BlockKey.ofAll(1, 2, 3), false, 60_000)).isEqualTo(3);
        put(5); // 4, the only unpinned block, goes although 1 is older
        assertThat(master.exists(BlockKey.ofAll(1, 2, 3, 4))).containsExactly(true, true, true, false);
        master.pin(BlockKey.ofAll(5), false, 60_000);
        put(6); // every block is soft-pinned: the least recent of them goes rather than refuse the put
        assertThat(master.exists(BlockKey.ofAll(1, 2, 3, 5, 6))).containsExactly(false, true, true, true, true);
        master.pin(BlockKey.ofAll(2, 3, 5, 6), true, 0);
        assertThatThrownBy(() -> put(7)).isInstanceOfSatisfying(MasterException.class,
                e -> assertThat(e.reason()).isEqualTo(MasterException.Reason.NO_SPACE)); // hard pins never go
    }

    @Test
    void aPreferredSegmentIsFoundByNameNodeIdOrDataAddress() {
        for (String name : new String[] {"b/dram", "b", "127.0.0.1:2"}) {
            BlockKey key = BlockKey.of(name.hashCode());
            assertThat(master.putStart(new BlockKey[] {key}, BLOCK, 1, name)).extracting(Placement::segment)
                    .as(name).containsExactly("b/dram");
            master.putAbort(new BlockKey[] {key});
        }
        assertThat(master.putStart(BlockKey.ofAll(9), BLOCK, 1, "no-such:1")).hasSize(1); // placed anyway
    }

    @Test
    void removeByRegexTakesTheNamedBlocksWhoseNameMatchesAndSparesLeasedAndPinnedOnes() {
        BlockKey[] keys = BlockKey.ofAll(1, 2, 3, 4);
        master.putStart(keys, BLOCK, 1, null, new String[] {"user_session_1", "user_session_2", "sys/prompt", null});
        master.putCommit(keys, new int[4]);
        assertThatThrownBy(() -> master.removeByRegex("(", false)).isInstanceOfSatisfying(MasterException.class,
                e -> assertThat(e.reason()).isEqualTo(MasterException.Reason.REFUSED));
        Lease lease = master.get(BlockKey.ofAll(2), 10_000);
        assertThat(master.removeByRegex("^user_session_", false)).isEqualTo(1); // 2 is leased
        assertThat(master.exists(keys)).containsExactly(false, true, true, true);
        master.release(lease.id());
        master.pin(BlockKey.ofAll(2), true, 0);
        assertThat(master.removeByRegex("session", false)).isZero(); // hard-pinned
        assertThat(master.removeByRegex("session", true)).isEqualTo(1);
        assertThat(master.removeByRegex(".*", false)).isEqualTo(1); // 4 has no name: never matched
        assertThat(master.exists(keys)).containsExactly(false, false, false, true);
    }

    @Test
    void renewKeepsALeaseAliveAndFailsOnceItExpired() {
        put(1);
        Lease lease = master.get(BlockKey.ofAll(1), 100);
        now.addAndGet(90_000_000L);
        assertThat(master.renew(lease.id(), 100)).isTrue();
        now.addAndGet(90_000_000L);
        heartbeatAll();
        master.expire();
        assertThat(master.release(lease.id())).isTrue();
        Lease second = master.get(BlockKey.ofAll(1), 100);
        now.addAndGet(200_000_000L);
        heartbeatAll();
        master.expire();
        assertThat(master.renew(second.id(), 100)).isFalse();
    }

    private void heartbeatAll() {
        master.heartbeat("a");
        master.heartbeat("b");
    }

    @Test
    void indexedNodeReceivesCommitsAndRemovalsUntilItAcknowledgesThem() {
        master.registerNode("c", new SegmentDescriptor("c/dram", 4 * BLOCK, new Endpoint("127.0.0.1", 3)),
                new NodeFeatures(true, 0, ""), List.of());
        List<Placement> placements = master.putStart(BlockKey.ofAll(1), BLOCK, 1, "c/dram");
        assertThat(master.heartbeat("c", 0)).isEmpty(); // nothing until the commit
        master.putCommit(BlockKey.ofAll(1), new int[] {11});
        master.remove(BlockKey.ofAll(1));
        List<IndexUpdate> updates = master.heartbeat("c", 0);
        assertThat(updates).extracting(IndexUpdate::seq, IndexUpdate::kind).containsExactly(
                org.assertj.core.groups.Tuple.tuple(1L, IndexUpdate.Kind.ADD),
                org.assertj.core.groups.Tuple.tuple(2L, IndexUpdate.Kind.REMOVE));
        assertThat(updates.getFirst().block()).isEqualTo(new IndexedBlock(BlockKey.of(1), placements.getFirst().offset(), BLOCK, 11));
        assertThat(master.stats().indexBacklog()).isEqualTo(2);
        assertThat(master.heartbeat("c", 1)).extracting(IndexUpdate::seq).containsExactly(2L);
        assertThat(master.heartbeat("c", 2)).isEmpty();
        assertThat(master.stats().indexBacklog()).isZero();
    }

    @Test
    void restartedNodeGetsItsKeptBlocksBackButNothingThatOverlapsOrConflicts() {
        put(1); // committed on a or b with CRC 0
        SegmentDescriptor c = new SegmentDescriptor("c/dram", 4 * BLOCK, new Endpoint("127.0.0.1", 3));
        int taken = master.registerNode("c", c, new NodeFeatures(true, 0, ""), List.of(
                new IndexedBlock(BlockKey.of(10), 0, BLOCK, 5),          // new key: taken
                new IndexedBlock(BlockKey.of(11), 0, BLOCK, 6),          // overlaps key 10: refused
                new IndexedBlock(BlockKey.of(1), BLOCK, BLOCK, 0),       // same key, same CRC: one more replica
                new IndexedBlock(BlockKey.of(12), 2 * BLOCK, BLOCK, 9),  // fine
                new IndexedBlock(BlockKey.of(13), 4 * BLOCK, BLOCK, 9))); // beyond the segment: refused
        assertThat(taken).isEqualTo(3);
        assertThat(master.exists(BlockKey.ofAll(10, 11, 12, 13))).containsExactly(true, false, true, false);
        assertThat(master.get(BlockKey.ofAll(1), 1000).replicas().getFirst()).hasSize(2);
        assertThat(master.get(BlockKey.ofAll(10), 1000).replicas().getFirst().getFirst().crc32c()).isEqualTo(5);
        // The taken ranges are in use: only the fourth slot is free.
        assertThat(master.putStart(BlockKey.ofAll(20), BLOCK, 1, "c/dram")).extracting(Placement::offset)
                .containsExactly(3 * BLOCK);
    }

    @Test
    void removeFreesCommittedBlocksKeepsLeasedOnesAndIgnoresPendingOnes() {
        put(1, 2);
        master.putStart(BlockKey.ofAll(3), BLOCK);
        Lease lease = master.get(BlockKey.ofAll(2), 10_000);
        assertThat(master.remove(BlockKey.ofAll(1, 2, 3, 4)))
                .containsExactly(Master.REMOVED, Master.LEASED, Master.NOT_FOUND, Master.NOT_FOUND);
        assertThat(master.lookupPrefix(BlockKey.ofAll(1))).isZero();
        assertThat(master.lookupPrefix(BlockKey.ofAll(2))).isEqualTo(1);
        assertThat(master.stats().usedBytes()).isEqualTo(2 * BLOCK);
        master.release(lease.id());
        assertThat(master.remove(BlockKey.ofAll(2))).containsExactly(Master.REMOVED);
    }

    @Test
    void removeAllKeepsLeasedPendingAndHardPinnedBlocksUnlessForced() {
        put(1, 2, 3);
        master.putStart(BlockKey.ofAll(4), BLOCK);
        Lease lease = master.get(BlockKey.ofAll(2), 10_000);
        assertThat(master.pin(BlockKey.ofAll(3), true, 0)).isEqualTo(1);
        assertThat(master.pin(BlockKey.ofAll(1), false, 60_000)).isEqualTo(1);
        assertThat(master.removeAll(false)).isEqualTo(1); // 1: a soft pin is an eviction hint only
        assertThat(master.exists(BlockKey.ofAll(1, 2, 3))).containsExactly(false, true, true);
        assertThat(master.removeAll(true)).isEqualTo(1); // the hard-pinned 3; the leased 2 stays
        assertThat(master.exists(BlockKey.ofAll(2, 3))).containsExactly(true, false);
        master.release(lease.id());
        assertThat(master.removeAll(false)).isEqualTo(1);
        master.putCommit(BlockKey.ofAll(4), new int[] {4}); // the put in progress was untouched
        assertThat(master.exists(BlockKey.ofAll(4))).containsExactly(true);
        assertThat(master.stats().usedBytes()).isEqualTo(BLOCK);
    }

    @Test
    void blockLargerThanEverySegmentIsRefusedWithoutEvictingAnything() {
        put(1, 2);
        assertThatThrownBy(() -> master.putStart(BlockKey.ofAll(3), 3 * BLOCK))
                .hasMessageContaining("larger than any segment").hasMessageContaining("nothing was evicted");
        assertThat(master.stats().blocks()).isEqualTo(2);
        assertThat(master.stats().evictions()).isZero();
    }

    /** A master with one node of 4 DRAM slots and an SSD tier of {@code ssdBytes}, blocks 1-4 committed (CRC = key). */
    private Master fullTieredMaster(long ssdBytes) {
        Master tiered = new Master(new LruPolicy(), now::get, 10_000_000_000L, 50_000_000_000L);
        tiered.registerNode("s", new SegmentDescriptor("s/dram", 4 * BLOCK, new Endpoint("127.0.0.1", 1)),
                new NodeFeatures(false, ssdBytes, "127.0.0.1:9"), List.of());
        for (long k = 1; k <= 4; k++) {
            tiered.putStart(BlockKey.ofAll(k), BLOCK);
            tiered.putCommit(BlockKey.ofAll(k), new int[] {(int) k});
        }
        return tiered;
    }

    @Test
    void fullDramDemotesTheColdestBlocksToSsdAndAHitPromotesThemBack() {
        Master tiered = fullTieredMaster(1000 * BLOCK);
        // DRAM is at 100% > 85%: the reaper pass demotes down to 70%, the coldest first.
        tiered.expire();
        tiered.expire(); // already demoting: nothing more asked
        List<IndexUpdate> updates = tiered.heartbeat("s", 0);
        assertThat(updates).extracting(IndexUpdate::kind).containsOnly(IndexUpdate.Kind.DEMOTE);
        assertThat(updates).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(1, 2));

        tiered.heartbeat("s", new NodeReport(2, BlockKey.ofAll(1, 2), new BlockKey[0], new BlockKey[0]));
        assertThat(tiered.stats().usedBytes()).isEqualTo(2 * BLOCK);
        assertThat(tiered.stats().ssdBlocks()).isEqualTo(2);
        assertThat(tiered.lookupPrefix(BlockKey.ofAll(1, 3))).isEqualTo(2);
        assertThat(tiered.stats().ssdHits()).isEqualTo(1);
        assertThat(tiered.stats().dramHits()).isEqualTo(1);

        Lease lease = tiered.get(BlockKey.ofAll(1), 1_000);
        Replica load = lease.replicas().getFirst().getFirst();
        assertThat(load.needsLoad()).isTrue();
        assertThat(load.loadEndpoint()).isEqualTo("127.0.0.1:9");
        assertThat(load.crc32c()).isEqualTo(1);
        assertThat(tiered.stats().usedBytes()).isEqualTo(3 * BLOCK); // DRAM taken for the promotion
        tiered.heartbeat("s", new NodeReport(1, new BlockKey[0], BlockKey.ofAll(1), new BlockKey[0]));
        tiered.release(lease.id());
        Replica inDram = tiered.get(BlockKey.ofAll(1), 1_000).replicas().getFirst().getFirst();
        assertThat(inDram.needsLoad()).isFalse();
        assertThat(inDram.offset()).isEqualTo(load.offset());
        assertThat(tiered.stats().promotions()).isEqualTo(1);
        assertThat(tiered.stats().demotions()).isEqualTo(2);
    }

    @Test
    void aBlockTheSsdLostIsGoneWhenDramNoLongerHoldsIt() {
        Master tiered = new Master(new LruPolicy(), now::get, 1_000_000_000L, 5_000_000_000L);
        tiered.registerNode("s", new SegmentDescriptor("s/dram", 4 * BLOCK, new Endpoint("127.0.0.1", 1)),
                new NodeFeatures(false, 1000 * BLOCK, "127.0.0.1:9"), List.of(new IndexedBlock(BlockKey.of(7), IndexedBlock.ON_SSD, BLOCK, 3)));
        assertThat(tiered.exists(BlockKey.ofAll(7))).containsExactly(true);
        tiered.heartbeat("s", new NodeReport(0, new BlockKey[0], new BlockKey[0], BlockKey.ofAll(7)));
        assertThat(tiered.exists(BlockKey.ofAll(7))).containsExactly(false);
        assertThat(tiered.stats().lostBlocks()).isEqualTo(1);
    }

    @Test
    void putIntoFullDramWaitsForDemotionInsteadOfEvictingUntilDemotionStalls() {
        Master tiered = fullTieredMaster(1000 * BLOCK);
        assertThatThrownBy(() -> tiered.putStart(BlockKey.ofAll(5, 6), BLOCK))
                .isInstanceOf(MasterException.class).extracting(e -> ((MasterException) e).reason()).isEqualTo(MasterException.Reason.BUSY);
        assertThat(tiered.stats().evictions()).isZero();
        assertThat(tiered.stats().pendingBlocks()).isZero();
        assertThat(tiered.stats().demotionWaits()).isEqualTo(1);
        List<IndexUpdate> asked = tiered.heartbeat("s", 0);
        assertThat(asked).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(1, 2));
        assertThat(asked).extracting(IndexUpdate::kind).containsOnly(IndexUpdate.Kind.DEMOTE);

        tiered.heartbeat("s", new NodeReport(2, BlockKey.ofAll(1, 2), new BlockKey[0], new BlockKey[0]));
        assertThat(tiered.putStart(BlockKey.ofAll(5, 6), BLOCK)).hasSize(2).noneMatch(Placement::exists);
        tiered.putCommit(BlockKey.ofAll(5, 6), new int[] {5, 6});
        assertThat(tiered.exists(BlockKey.ofAll(1, 2, 3, 4, 5, 6))).containsOnly(true);
        assertThat(tiered.stats().evictions()).isZero();

        // Blocks 3 and 4 are asked to go to SSD, but the node never reports them written.
        assertThatThrownBy(() -> tiered.putStart(BlockKey.ofAll(7), BLOCK)).isInstanceOf(MasterException.class);
        now.addAndGet(Master.DEMOTION_STALL_NANOS + 1);
        assertThat(tiered.putStart(BlockKey.ofAll(7), BLOCK)).hasSize(1);
        assertThat(tiered.stats().evictions()).isEqualTo(1);
        assertThat(tiered.stats().demotionWaits()).isEqualTo(2);
    }

    @Test
    void aNodeWhoseSsdIsFullGetsNoDemotionAndAPutEvictsAtOnceUntilItIsWritableAgain() {
        Master tiered = fullTieredMaster(1000 * BLOCK);
        NodeReport full = new NodeReport(0, new BlockKey[0], new BlockKey[0], new BlockKey[0], SsdHealth.FULL);
        tiered.heartbeat("s", full);
        assertThat(tiered.ssdHealth("s")).isEqualTo(SsdHealth.FULL);
        tiered.expire();
        assertThat(tiered.heartbeat("s", full)).isEmpty();
        assertThat(tiered.putStart(BlockKey.ofAll(5), BLOCK)).hasSize(1);
        assertThat(tiered.stats().evictions()).isEqualTo(1);
        assertThat(tiered.stats().demotionWaits()).isZero();
        assertThat(tiered.stats().demotions()).isZero();

        tiered.heartbeat("s", NodeReport.ack(0));
        assertThat(tiered.ssdHealth("s")).isEqualTo(SsdHealth.OK);
        tiered.putCommit(BlockKey.ofAll(5), new int[] {5});
        tiered.expire();
        assertThat(tiered.heartbeat("s", 0)).extracting(IndexUpdate::kind).contains(IndexUpdate.Kind.DEMOTE);
    }

    @Test
    void demotionsRefusedByAFullSsdDoNotCutShortTheWriteStallOnceItIsWritableAgain() {
        Master tiered = fullTieredMaster(1000 * BLOCK);
        tiered.expire();
        assertThat(tiered.heartbeat("s", 0)).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(1, 2));
        tiered.heartbeat("s", new NodeReport(2, new BlockKey[0], new BlockKey[0], BlockKey.ofAll(1, 2), SsdHealth.FULL));
        now.addAndGet(2 * Master.DEMOTION_STALL_NANOS);
        tiered.heartbeat("s", NodeReport.ack(2));
        // Writable again: a put into full DRAM waits for the demotion it starts, as before the fault.
        assertThatThrownBy(() -> tiered.putStart(BlockKey.ofAll(5), BLOCK)).isInstanceOf(MasterException.class)
                .extracting(e -> ((MasterException) e).reason()).isEqualTo(MasterException.Reason.BUSY);
        assertThat(tiered.stats().evictions()).isZero();
    }

    @Test
    void aFailedDemotionIsNoProgressSoAPutStopsWaitingAfterTheStallLimit() {
        Master tiered = fullTieredMaster(1000 * BLOCK);
        assertThatThrownBy(() -> tiered.putStart(BlockKey.ofAll(5), BLOCK)).isInstanceOf(MasterException.class);
        assertThat(tiered.heartbeat("s", 0)).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(1, 2));
        // The node could not write them (a disk error before it knew its state).
        tiered.heartbeat("s", new NodeReport(2, new BlockKey[0], new BlockKey[0], BlockKey.ofAll(1, 2)));
        now.addAndGet(Master.DEMOTION_STALL_NANOS / 2);
        // The same blocks are asked again; that is no progress.
        assertThatThrownBy(() -> tiered.putStart(BlockKey.ofAll(5), BLOCK)).isInstanceOf(MasterException.class);
        now.addAndGet(Master.DEMOTION_STALL_NANOS / 2 + 1);
        assertThat(tiered.putStart(BlockKey.ofAll(5), BLOCK)).hasSize(1);
        assertThat(tiered.stats().evictions()).isEqualTo(1);
    }

    @Test
    void aFullSsdTierLosesItsColdestBlockByTheMastersRecencyBeforeMoreIsDemoted() {
        Master tiered = fullTieredMaster(3 * BLOCK);
        tiered.expire();
        assertThat(tiered.heartbeat("s", 0)).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(1, 2));
        tiered.heartbeat("s", new NodeReport(2, BlockKey.ofAll(1, 2), new BlockKey[0], new BlockKey[0]));
        assertThat(tiered.lookupPrefix(BlockKey.ofAll(1))).isEqualTo(1); // 1 is now more recent than 2

        tiered.putStart(BlockKey.ofAll(5, 6), BLOCK);
        tiered.putCommit(BlockKey.ofAll(5, 6), new int[] {5, 6});
        tiered.expire();
        List<IndexUpdate> next = tiered.heartbeat("s", 2);
        // Block 3 fits the SSD's third slot; block 4 needs 2's (the coldest SSD-only block) first.
        assertThat(next).extracting(IndexUpdate::kind).containsExactly(IndexUpdate.Kind.DEMOTE,
                IndexUpdate.Kind.REMOVE, IndexUpdate.Kind.DEMOTE);
        assertThat(next).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(3, 2, 4));
        assertThat(tiered.exists(BlockKey.ofAll(1, 2, 3, 4, 5, 6))).containsExactly(true, false, true, true, true, true);
        assertThat(tiered.stats().evictions()).isEqualTo(1);
    }

    @Test
    void corruptCopyIsDroppedAndItsRangeFreedOnlyWhenTheLastLeaseEnds() {
        master.putCommit(master.putStart(BlockKey.ofAll(1), BLOCK, 2, "a/dram").stream().map(Placement::key)
                .distinct().toArray(BlockKey[]::new), new int[] {77});
        Lease reader = master.get(BlockKey.ofAll(1), 10_000);
        Replica onA = reader.replicas().getFirst().getFirst();
        assertThat(onA.segment()).isEqualTo("a/dram");
        long used = master.stats().usedBytes();

        // Stale reports change nothing: another offset, another CRC, an unknown key or segment.
        assertThat(master.dropCorrupt(BlockKey.of(1), "a/dram", onA.offset() + BLOCK, 77)).isFalse();
        assertThat(master.dropCorrupt(BlockKey.of(1), "a/dram", onA.offset(), 78)).isFalse();
        assertThat(master.dropCorrupt(BlockKey.of(2), "a/dram", onA.offset(), 77)).isFalse();
        assertThat(master.dropCorrupt(BlockKey.of(1), "c/dram", onA.offset(), 77)).isFalse();

        assertThat(master.dropCorrupt(BlockKey.of(1), "a/dram", onA.offset(), 77)).isTrue();
        assertThat(master.dropCorrupt(BlockKey.of(1), "a/dram", onA.offset(), 77)).isFalse();
        assertThat(master.corruptCopies()).isEqualTo(1);
        Lease later = master.get(BlockKey.ofAll(1), 10_000);
        assertThat(later.replicas().getFirst()).extracting(Replica::segment).containsExactly("b/dram");
        assertThat(master.stats().usedBytes()).as("leased: the reader may still be moving bytes").isEqualTo(used);
        master.release(reader.id());
        assertThat(master.stats().usedBytes()).isEqualTo(used);
        master.release(later.id());
        assertThat(master.stats().usedBytes()).isEqualTo(used - BLOCK);

        // The last copy: the key is gone, its range free once unleased.
        Lease last = master.get(BlockKey.ofAll(1), 10_000);
        Replica onB = last.replicas().getFirst().getFirst();
        assertThat(master.dropCorrupt(BlockKey.of(1), "b/dram", onB.offset(), 77)).isTrue();
        assertThat(master.exists(BlockKey.ofAll(1))).containsExactly(false);
        master.release(last.id());
        assertThat(master.stats().usedBytes()).isZero();
        assertThat(master.stats().lostBlocks()).isZero();
    }
}
