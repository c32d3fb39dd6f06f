package dev.ferry.cluster.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.LocalCluster;
import dev.ferry.cluster.Replay;
import dev.ferry.cluster.report.ReplaySummary;
import dev.ferry.cluster.report.RequestResult;
import dev.ferry.prefill.trace.TraceGenerator;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterStats;
import dev.ferry.store.model.ModelProfile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job with sidecars ({@code ferry cluster --sidecar}): master, two sidecars (the
 * store nodes), prefill and decode as separate JVMs, prefill and decode reaching the store
 * only through their own sidecar's Unix socket and shared memory. The same replay through
 * the plain cluster (store nodes, prefill and decode with their own transfer engines) must
 * give the same hit ratio, and every block must arrive intact.
 */
class SidecarClusterTest {
    private static final ModelProfile TINY = ModelProfile.byName("tiny");
    private static final long CAPACITY = 300;

    @Test
    void replayThroughSidecarsVerifiesEveryBlockAndMatchesThePlainClustersHitRatio(@TempDir Path dir)
            throws Exception {
        List<TraceRequest> trace = TraceGenerator.generate(7, 150);
        Run plain = replay(trace, false, dir.resolve("plain"));
        Run sidecars = replay(trace, true, dir.resolve("sidecars"));

        long blocks = trace.stream().mapToLong(r -> r.blockKeys().length).sum();
        for (Run run : List.of(plain, sidecars)) {
            assertThat(run.summary.failed()).isZero();
            assertThat(run.summary.verifyFailures()).isZero();
            assertThat(run.summary.blocksRead()).isEqualTo(blocks);
            assertThat(run.summary.bytesRead()).isEqualTo(blocks * TINY.blockBytes());
            assertThat(run.store.nodes()).isEqualTo(2);
            assertThat(run.store.evictions()).isPositive(); // the capacity is tight: LRU decides the hits
        }
        assertThat(sidecars.summary.hitRatio()).isEqualTo(plain.summary.hitRatio()).isPositive();
        assertThat(sidecars.summary.blocksWritten()).isEqualTo(plain.summary.blocksWritten());
        assertThat(sidecars.store.evictions()).isEqualTo(plain.store.evictions());
        assertThat(dir.resolve("sidecars/sidecar-prefill.log")).content().contains("FERRY-READY role=sidecar");
        assertThat(dir.resolve("sidecars/sidecar-decode.log")).content().contains("FERRY-READY role=sidecar");
        assertThat(dir.resolve("sidecars/master.log")).content().contains("sidecar-prefill/dram")
                .contains("sidecar-decode/dram").doesNotContain("store-1");
    }

    private record Run(ReplaySummary summary, MasterStats store) {
    }

    private static Run replay(List<TraceRequest> trace, boolean sidecar, Path logs) throws InterruptedException {
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Config(TINY, CAPACITY, 2, 2, "tcp", "lru", 0, 1,
                0, logs, sidecar))) {
            long start = System.nanoTime();
            List<RequestResult> results = new Replay(cluster.prefill(), 0, 1, 60_000).run(trace, r -> { });
            long wall = System.nanoTime() - start;
            try (MasterClient master = new MasterClient(cluster.master().host(), cluster.master().port(), 5_000)) {
                // Releases that need no answer may still be on their way.
                await().atMost(Duration.ofSeconds(5)).until(() -> master.stats().leases() == 0);
                return new Run(ReplaySummary.of(results, wall), master.stats());
            }
        }
    }
}
