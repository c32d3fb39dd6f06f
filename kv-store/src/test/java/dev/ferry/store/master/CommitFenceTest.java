package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * A commit completes only once every node holding one of its blocks has acknowledged the
 * commit into its index, or has left; an acknowledgement numbered for an earlier
 * registration of the node acknowledges nothing.
 */
class CommitFenceTest {
    private static final long BLOCK = 4096;
    private final Master master = new Master(new LruPolicy(), System::nanoTime, Long.MAX_VALUE, Long.MAX_VALUE);

    private void register(String node) {
        master.registerNode(node, new SegmentDescriptor(node, 64 * BLOCK, new Endpoint("127.0.0.1", 1)),
                new NodeFeatures(true, 0, ""), List.of());
    }

    @Test
    void aCommitCompletesOnceEveryHoldingNodeAcknowledgedItsUpdates() {
        register("a");
        register("b");
        master.putStart(BlockKey.ofAll(1, 2), BLOCK, 2, "a");
        CompletableFuture<Void> commit = master.putCommit(BlockKey.ofAll(1, 2), new int[] {11, 22});
        assertThat(commit).isNotDone();

        Master.IndexPoll a = master.pollIndex("a", 0);
        assertThat(a.updates()).extracting(IndexUpdate::kind).containsExactly(IndexUpdate.Kind.ADD, IndexUpdate.Kind.ADD);
        assertThat(a.news()).isDone();
        master.pollIndex("a", a.updates().getLast().seq());
        assertThat(commit).as("b has not acknowledged").isNotDone();

        List<IndexUpdate> b = master.pollIndex("b", 0).updates();
        assertThat(master.pollIndex("b", b.getLast().seq()).updates()).isEmpty();
        assertThat(commit).isDone();
    }

    @Test
    void aNodeThatLeavesReleasesTheCommitsAndThePollWaitingForIt() {
        register("a");
        register("b");
        master.putStart(BlockKey.ofAll(1), BLOCK, 1, "a");
        CompletableFuture<Void> commit = master.putCommit(BlockKey.ofAll(1), new int[] {11});
        assertThat(master.pollIndex("a", 0).updates()).hasSize(1); // taken, never acknowledged
        CompletableFuture<Void> parked = master.pollIndex("b", 0).news();
        assertThat(commit).isNotDone();
        assertThat(parked).isNotDone();

        assertThat(master.declareDead("a")).isEqualTo("a");
        assertThat(commit).isDone();
        assertThat(master.declareDead("b")).isEqualTo("b");
        assertThat(parked).isDone();
    }

    @Test
    void aParkedPollWakesWhenAnUpdateIsQueued() {
        register("a");
        CompletableFuture<Void> parked = master.pollIndex("a", 0).news();
        assertThat(parked).isNotDone();
        master.putStart(BlockKey.ofAll(1), BLOCK);
        master.putCommit(BlockKey.ofAll(1), new int[] {11});
        assertThat(parked).isDone();
        assertThat(master.pollIndex("a", 0).updates()).hasSize(1);
    }

    @Test
    void anAcknowledgementFromAnEarlierRegistrationAcknowledgesNothing() {
        register("a");
        master.putStart(BlockKey.ofAll(1), BLOCK);
        CompletableFuture<Void> commit = master.putCommit(BlockKey.ofAll(1), new int[] {11});
        assertThat(master.pollIndex("a", 500).updates()).hasSize(1); // from before a restart: not trimmed
        assertThat(commit).isNotDone();
        assertThat(master.pollIndex("a", 1).updates()).isEmpty();
        assertThat(commit).isDone();
    }

    @Test
    void aCommitFromTheHoldingNodesOwnProcessHandsItItsUpdatesAndWaitsForNoAcknowledgement() {
        register("a");
        master.putStart(BlockKey.ofAll(1, 2), BLOCK, 1, "a");
        Master.Committed c = master.putCommit(BlockKey.ofAll(1, 2), new int[] {11, 22}, 0, "a", 0);
        assertThat(c.updates()).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(1, 2));
        assertThat(c.updates()).extracting(u -> u.block().crc32c()).containsExactly(11, 22);
        assertThat(c.fence()).as("the committer applies its updates itself before its writer hears").isDone();
        // Not acknowledged yet: its index poll still hands them out until it does.
        assertThat(master.pollIndex("a", 0).updates()).hasSize(2);
    }

    @Test
    void aCommitThatHandsTheCommitterAllItsUpdatesLeavesItsParkedPollAsleep() {
        register("a");
        CompletableFuture<Void> parked = master.pollIndex("a", 0).news();
        master.putStart(BlockKey.ofAll(1, 2), BLOCK, 1, "a");
        Master.Committed c = master.putCommit(BlockKey.ofAll(1, 2), new int[] {11, 22}, 0, "a", 0);
        assertThat(c.updates()).hasSize(2);
        assertThat(parked).as("the answer carried them: a poll would only carry them again").isNotDone();
        // A poll that reaches its deadline still hands them out (an answer lost on the way).
        assertThat(master.pollIndex("a", 0).updates()).hasSize(2);
    }

    @Test
    void aCommitterWhoseCopyIsAlsoOnAnotherNodeWakesThatNodesPollOnly() {
        register("a");
        register("b");
        CompletableFuture<Void> parkedA = master.pollIndex("a", 0).news();
        CompletableFuture<Void> parkedB = master.pollIndex("b", 0).news();
        master.putStart(BlockKey.ofAll(1), BLOCK, 2, "a");
        master.putCommit(BlockKey.ofAll(1), new int[] {11}, 0, "a", 0);
        assertThat(parkedA).isNotDone();
        assertThat(parkedB).as("b acknowledges through its poll").isDone();
    }

    @Test
    void aCommitterNotHandedAllItsUpdatesWakesItsPoll() {
        register("a");
        CompletableFuture<Void> parked = master.pollIndex("a", 0).news();
        master.putStart(BlockKey.ofAll(1), BLOCK, 1, "a");
        // Numbered for a later registration: the answer hands it nothing, so the poll must.
        Master.Committed c = master.putCommit(BlockKey.ofAll(1), new int[] {11}, 0, "b-unknown", 0);
        assertThat(c.updates()).isEmpty();
        assertThat(parked).isDone();
    }

    @Test
    void aCopyOnAnotherNodeStillWaitsForThatNode() {
        register("a");
        register("b");
        master.putStart(BlockKey.ofAll(1), BLOCK, 2, "a");
        Master.Committed c = master.putCommit(BlockKey.ofAll(1), new int[] {11}, 0, "a", 0);
        assertThat(c.updates()).hasSize(1);
        assertThat(c.fence()).as("b has not acknowledged its copy").isNotDone();

        List<IndexUpdate> b = master.pollIndex("b", 0).updates();
        master.pollIndex("b", b.getLast().seq());
        assertThat(c.fence()).isDone();
    }

    @Test
    void aCommitterThatHoldsNoneOfTheBlocksGetsItsOwnUpdatesAndTheHoldersAreWaitedFor() {
        register("a");
        register("b");
        master.putStart(BlockKey.ofAll(1), BLOCK, 1, "b");
        Master.Committed c = master.putCommit(BlockKey.ofAll(1), new int[] {11}, 0, "a", 0);
        assertThat(c.updates()).isEmpty();
        assertThat(c.fence()).isNotDone();
        master.pollIndex("b", master.pollIndex("b", 0).updates().getLast().seq());
        assertThat(c.fence()).isDone();
    }

    @Test
    void theCommittersEarlierUnacknowledgedUpdatesComeFirstInOrder() {
        register("a");
        master.putStart(BlockKey.ofAll(1), BLOCK, 1, "a");
        CompletableFuture<Void> first = master.putCommit(BlockKey.ofAll(1), new int[] {11});
        master.putStart(BlockKey.ofAll(2), BLOCK, 1, "a");
        Master.Committed second = master.putCommit(BlockKey.ofAll(2), new int[] {22}, 0, "a", 0);
        assertThat(second.updates()).extracting(u -> u.block().key()).containsExactly(BlockKey.ofAll(1, 2));
        assertThat(second.fence()).isDone();
        assertThat(first).as("acknowledged only by the node's next poll").isNotDone();
        master.pollIndex("a", second.updates().getLast().seq());
        assertThat(first).isDone();
    }

    @Test
    void aCommitterWhoseUpdatesDoNotFitOneAnswerIsWaitedFor() {
        long[] keys = java.util.stream.LongStream.rangeClosed(1, Master.MAX_UPDATES_PER_HEARTBEAT).toArray();
        Master big = new Master(new LruPolicy(), System::nanoTime, Long.MAX_VALUE, Long.MAX_VALUE);
        big.registerNode("a", new SegmentDescriptor("a", (keys.length + 1) * BLOCK, new Endpoint("127.0.0.1", 1)),
                new NodeFeatures(true, 0, ""), List.of());
        big.putStart(BlockKey.ofAll(keys), BLOCK, 1, "a");
        big.putCommit(BlockKey.ofAll(keys), new int[keys.length]); // fills one answer, unacknowledged
        big.putStart(BlockKey.ofAll(keys.length + 1), BLOCK, 1, "a");
        Master.Committed c = big.putCommit(BlockKey.ofAll(keys.length + 1), new int[1], 0, "a", 0);
        assertThat(c.updates()).hasSize(Master.MAX_UPDATES_PER_HEARTBEAT);
        assertThat(c.fence()).as("its own update is not in the answer").isNotDone();
        big.pollIndex("a", keys.length + 1);
        assertThat(c.fence()).isDone();
    }
}
