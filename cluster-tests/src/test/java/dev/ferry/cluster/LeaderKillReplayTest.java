package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.report.ReplaySummary;
import dev.ferry.cluster.report.RequestResult;
import dev.ferry.prefill.trace.TraceGenerator;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterStats;
import dev.ferry.store.model.ModelProfile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job with three masters elected in a real etcd (real processes): the leader is
 * killed with SIGKILL mid-replay, a standby takes over after the lease TTL, and the replay
 * rides through: no block fails verification, every block committed before the kill is
 * still in the store (the store holds every block of the trace, so none is evicted), and at
 * most the requests in flight at the kill fail, each with an error that says why.
 */
class LeaderKillReplayTest {
    private static final ModelProfile TINY = ModelProfile.byName("tiny");
    private static final int REQUESTS = 300;
    private static final int CONCURRENCY = 2;

    @Test
    void aLeaderKilledMidReplayLosesNoCommittedBlockAndAtMostTheRequestsInFlight(@TempDir Path dir) throws Exception {
        List<TraceRequest> trace = TraceGenerator.generate(7, REQUESTS);
        long distinct = trace.stream().flatMapToLong(r -> LongStream.of(r.blockKeys())).distinct().count();
        long capacity = distinct + 64; // nothing is evicted: a missing block was lost
        Set<Integer> doneBeforeKill = ConcurrentHashMap.newKeySet();
        Set<Integer> done = ConcurrentHashMap.newKeySet();
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Config(TINY, capacity, 2, 2, dir), 3)) {
            MasterAddress masters = MasterAddress.parse(cluster.masterAddress());
            long start = System.nanoTime();
            CompletableFuture<List<RequestResult>> replay = CompletableFuture.supplyAsync(() -> {
                try {
                    return new Replay(cluster.prefill(), 0, CONCURRENCY, 120_000).run(trace, r -> done.add(r.index()));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            long[] committedBeforeKill;
            MasterStats before;
            try (MasterClient master = new MasterClient(masters, 5_000, 0)) {
                await().atMost(Duration.ofSeconds(120)).until(() -> done.size() >= REQUESTS / 4);
                doneBeforeKill.addAll(done); // their blocks were committed, then read back and verified
                before = master.stats();
                committedBeforeKill = doneBeforeKill.stream()
                        .flatMapToLong(i -> LongStream.of(trace.get(i).blockKeys())).distinct().toArray();
            }
            long killedPid = cluster.killLeader();
            int doneAtKill = done.size();
            assertThat(doneAtKill).as("the kill comes mid-replay").isLessThan(REQUESTS);
            List<RequestResult> results = replay.get(240, TimeUnit.SECONDS);
            long wall = System.nanoTime() - start;
            ReplaySummary summary = ReplaySummary.of(results, wall);
            List<RequestResult> failed = results.stream().filter(RequestResult::failed).toList();
            System.out.printf("leader (pid %d) killed after %d of %d requests; %d failed; wall %.1f s; "
                            + "blocks before the kill %d%n", killedPid, doneAtKill, REQUESTS, failed.size(), wall / 1e9,
                    before.blocks());
            failed.forEach(r -> System.out.println("  failed request " + r.index() + ": " + r.error()));

            assertThat(results).hasSize(REQUESTS);
            assertThat(summary.verifyFailures()).isZero();
            assertThat(failed).as("at most the requests in flight at the kill fail").hasSizeLessThanOrEqualTo(CONCURRENCY);
            assertThat(failed).allSatisfy(r -> assertThat(r.error()).isNotBlank());
            try (MasterClient master = new MasterClient(masters, 5_000, 0)) {
                MasterStats after = master.stats();
                assertThat(after.evictions()).isZero();
                assertThat(after.lostBlocks()).isZero();
                assertThat(absent(master.exists(BlockKey.ofAll(committedBeforeKill)))).as("blocks committed before the kill that the new leader lacks").isZero();
                assertThat(after.blocks()).isGreaterThanOrEqualTo(before.blocks());
                assertThat(cluster.leader().port()).isNotEqualTo(cluster.master().port());
            }
        }
    }

    private static long absent(boolean[] present) {
        long n = 0;
        for (boolean p : present) {
            n += p ? 0 : 1;
        }
        return n;
    }
}
