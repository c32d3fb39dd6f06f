package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.report.ReplaySummary;
import dev.ferry.cluster.report.ReportFiles;
import dev.ferry.cluster.report.RequestResult;
import dev.ferry.cluster.report.TrafficReport;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.model.ModelProfile;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real multi-process cluster: master, two store nodes, prefill and decode, each its own JVM. */
class LocalClusterTest {
    private static final ModelProfile TINY = ModelProfile.byName("tiny");

    @Test
    void replaysTheTraceWithEveryByteVerifiedAndTheReferenceHitRatio(@TempDir Path dir) throws Exception {
        List<TraceRequest> trace = Traces.realOrGenerated(300);
        long capacity = 1000;
        List<RequestResult> results;
        long wall;
        TrafficReport traffic;
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Config(TINY, capacity, 2, 2, dir))) {
            long start = System.nanoTime();
            results = new Replay(cluster.prefill(), 0, 1, 60_000).run(trace, r -> { });
            wall = System.nanoTime() - start;
            traffic = cluster.traffic();
            try (MasterClient master = new MasterClient(cluster.master().host(), cluster.master().port(), 5_000)) {
                var stats = master.stats();
                assertThat(stats.nodes()).isEqualTo(2);
                assertThat(stats.blocks()).isEqualTo(capacity); // the store filled up and evicted
                assertThat(stats.capacityBytes()).isEqualTo(capacity * TINY.blockBytes());
                // Releases that need no answer may still be on their way.
                await().atMost(Duration.ofSeconds(5)).until(() -> master.stats().leases() == 0);
            }
        }
        ReplaySummary summary = ReplaySummary.of(results, wall);
        long blocks = trace.stream().mapToLong(r -> r.blockKeys().length).sum();
        assertThat(summary.failed()).isZero();
        assertThat(summary.verifyFailures()).isZero();
        assertThat(summary.blocks()).isEqualTo(blocks);
        assertThat(summary.blocksRead()).isEqualTo(blocks);
        assertThat(summary.hitRatio()).isEqualTo(ReferenceLru.hitRatio(trace, capacity));
        assertThat(summary.bytesRead()).isEqualTo(blocks * TINY.blockBytes());
        assertThat(summary.bytesWritten()).isEqualTo(summary.blocksWritten() * TINY.blockBytes());
        // Over TCP (the default transport) every byte went over the nodes' TCP links.
        assertThat(traffic.totalBytes()).isGreaterThanOrEqualTo(summary.bytesWritten() + summary.bytesRead());
        assertThat(traffic.bytesByTransport()).containsEntry("tcp", traffic.totalBytes());
        assertThat(traffic.links()).extracting(TrafficReport.NodeLink::node).contains("prefill", "decode");
        assertThat(summary.ttftP99Ms()).isGreaterThanOrEqualTo(summary.ttftP50Ms()).isPositive();
        // TTFT = queueing + compute + WRITE + READ + the first decode step, modeled by decode as
        // the step's bytes over its memory bandwidth (3,350 GB/s by default).
        var byIndex = trace.stream().collect(java.util.stream.Collectors.toMap(TraceRequest::index, t -> t));
        assertThat(results).allSatisfy(r -> {
            assertThat(List.of(r.queueNanos(), r.computeNanos(), r.writeNanos(), r.readNanos()))
                    .allSatisfy(part -> assertThat(part).isNotNegative());
            assertThat(r.computeNanos()).isPositive();
            assertThat(r.writeNanos() + r.readNanos()).isPositive();
            long firstStep = (long) (TINY.decodeStepBytes(byIndex.get(r.index()).inputTokens()) / 3350.0);
            assertThat(r.ttftNanos() - r.queueNanos() - r.computeNanos() - r.writeNanos() - r.readNanos())
                    .as("request %d: the first decode step", r.index()).isEqualTo(firstStep).isPositive();
        });

        List<Path> files = ReportFiles.write(dir.resolve("report"), results, "test");
        assertThat(files).allSatisfy(f -> assertThat(Files.size(f)).isPositive());
        assertArrowRows(dir.resolve("report/requests.arrow"), results);
        assertThat(Files.readAllLines(dir.resolve("report/requests.csv"))).hasSize(results.size() + 1);
        assertThat(Files.readAllBytes(dir.resolve("report/ttft-cdf.png"))).startsWith(0x89, 'P', 'N', 'G');
        assertThat(dir.resolve("store-1.log")).content().contains("FERRY-READY role=store");
    }

    private static void assertArrowRows(Path file, List<RequestResult> results) throws IOException {
        try (RootAllocator allocator = new RootAllocator();
             ArrowFileReader reader = new ArrowFileReader(FileChannel.open(file), allocator)) {
            assertThat(reader.loadNextBatch()).isTrue();
            var root = reader.getVectorSchemaRoot();
            assertThat(root.getRowCount()).isEqualTo(results.size());
            BigIntVector bytesRead = (BigIntVector) root.getVector("bytes_read");
            assertThat(bytesRead.get(7)).isEqualTo(results.get(7).bytesRead());
        }
    }

    @Test
    void aStoreNodeThatDiesIsDroppedAndTheReplayCarriesOnAndShutsDown(@TempDir Path dir) throws Exception {
        List<TraceRequest> trace = Traces.realOrGenerated(120);
        AtomicInteger done = new AtomicInteger();
        List<RequestResult> results;
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Config(TINY, 2000, 2, 2, dir))) {
            results = new Replay(cluster.prefill(), 0, 2, 60_000).run(trace, r -> {
                if (done.incrementAndGet() == 30) {
                    cluster.killStoreNode(0);
                }
            });
            assertThat(cluster.allAlive()).isFalse();
            try (MasterClient master = new MasterClient(cluster.master().host(), cluster.master().port(), 5_000)) {
                var stats = master.stats();
                assertThat(stats.nodes()).isEqualTo(1);
                assertThat(stats.lostBlocks()).isPositive();
                // Releases that need no answer may still be on their way.
                await().atMost(Duration.ofSeconds(5)).until(() -> master.stats().leases() == 0);
            }
        }
        // Every request ended (none hung); those that failed say why; later ones succeed on the survivor.
        assertThat(results).hasSize(120).doesNotContainNull();
        assertThat(results.subList(0, 20)).noneMatch(RequestResult::failed);
        assertThat(results.subList(100, 120)).noneMatch(RequestResult::failed);
        assertThat(results).allSatisfy(r -> assertThat(r.verifyFailures()).isZero());
        assertThat(results.stream().filter(RequestResult::failed).map(RequestResult::error))
                .allSatisfy(e -> assertThat(e).containsAnyOf("prefill:", "decode:"));
        assertThat(dir.resolve("master.log")).content().contains("store-1").contains("declared dead");
    }
}
