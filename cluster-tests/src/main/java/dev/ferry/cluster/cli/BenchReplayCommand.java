package dev.ferry.cluster.cli;

import dev.ferry.cluster.LocalCluster;
import dev.ferry.cluster.Replay;
import dev.ferry.cluster.bench.ReplayBenchReport;
import dev.ferry.cluster.bench.ReplayPoint;
import dev.ferry.cluster.report.ReplaySummary;
import dev.ferry.cluster.report.RequestResult;
import dev.ferry.prefill.trace.TraceGenerator;
import dev.ferry.prefill.trace.TraceReader;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.model.ModelProfile;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry bench replay}: the main job's trace replay as a benchmark, once per policy and
 * capacity, each on a fresh local cluster; hit ratio and TTFT per setting.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Replay a trace through local clusters of several capacities and policies.")
final class BenchReplayCommand implements Callable<Integer> {
    @Option(names = "--trace", description = "Trace (Mooncake FAST'25 JSONL). Default: a generated trace.")
    Path trace;

    @Option(names = "--requests", defaultValue = "500", description = "Requests per setting (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--model", defaultValue = "tiny", description = "Model profile (default ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--capacities", split = ",", defaultValue = "500,1000,2000,4000",
            description = "Store capacities in blocks (default ${DEFAULT-VALUE}).")
    List<Long> capacities;

    @Option(names = "--policies", split = ",", defaultValue = "lru,s3fifo",
            description = "Eviction policies (default ${DEFAULT-VALUE}).")
    List<String> policies;

    @Option(names = "--concurrency", defaultValue = "1", description = "Requests in flight (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the generated trace (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", description = "Results directory (default ferry-out/replay-<time>).")
    Path out;

    @Override
    public Integer call() throws Exception {
        ModelProfile profile = ModelProfile.byName(model);
        policies.forEach(EvictionPolicy::byName);
        List<TraceRequest> requestsToReplay = trace == null ? TraceGenerator.generate(seed, requests)
                : TraceReader.read(trace, requests);
        int largest = requestsToReplay.stream().mapToInt(r -> r.blockKeys().length).max().orElse(0);
        for (long c : capacities) {
            if (c < largest) {
                throw new IllegalArgumentException("capacity of " + c + " blocks is smaller than the largest request ("
                        + largest + " blocks)");
            }
        }
        Path dir = out != null ? out : Path.of("ferry-out", "replay-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        System.out.printf("ferry bench replay: %s, %d requests of %s, %s%n", profile.name(), requestsToReplay.size(),
                trace == null ? "a generated trace (seed " + seed + ")" : trace, "concurrency " + concurrency);
        System.out.printf("%-8s %10s %10s %10s %10s %10s %10s %8s%n", "policy", "capacity", "hit ratio", "TTFT p50",
                "TTFT p90", "TTFT p99", "GB/s", "failed");
        List<ReplayPoint> points = new ArrayList<>();
        for (String policy : policies) {
            for (long capacity : capacities) {
                List<RequestResult> results;
                long wall;
                try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Config(profile, capacity, 2, 2, "tcp",
                        policy, dir.resolve("logs").resolve(policy + "-" + capacity)))) {
                    long start = System.nanoTime();
                    results = new Replay(cluster.prefill(), 0, concurrency, 120_000).run(requestsToReplay, r -> { });
                    wall = System.nanoTime() - start;
                }
                ReplaySummary s = ReplaySummary.of(results, wall);
                ReplayPoint p = new ReplayPoint(policy, capacity, s.requests(), s.failed(), s.hitRatio(), s.ttftP50Ms(),
                        s.ttftP90Ms(), s.ttftP99Ms(), s.transferGBps(), s.wallSeconds());
                points.add(p);
                System.out.printf("%-8s %10d %10.4f %8.2fms %8.2fms %8.2fms %10.2f %8d%n", policy, capacity,
                        p.hitRatio(), p.ttftP50Ms(), p.ttftP90Ms(), p.ttftP99Ms(), p.transferGBps(), p.failed());
            }
        }
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("model", profile.name());
        settings.put("requests", requestsToReplay.size());
        settings.put("trace", trace == null ? "generated, seed " + seed : trace.toString());
        settings.put("concurrency", concurrency);
        ReplayBenchReport.write(dir, settings, points).forEach(f -> System.out.println("  wrote " + f));
        return points.stream().anyMatch(p -> p.failed() > 0) ? ExitCodes.REQUESTS_FAILED : ExitCodes.OK;
    }
}
