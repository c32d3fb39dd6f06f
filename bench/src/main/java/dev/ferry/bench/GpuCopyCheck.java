package dev.ferry.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs {@link GpuCopyBenchmark} in one JMH run and prints, per block size, the tier's copies
 * against raw {@code cuMemcpyAsync} in GB/s with their ratio (the goal is at least 0.9), the
 * 16-block reads one by one against batched, and a GPU hit against a DRAM hit for the local
 * engine, then many small blocks (16 and 64 blocks of 16, 64 and 256 KiB) copied one by one against
 * one batched copy, both directions. Needs only kv-native, kv-store, JCuda and JMH on the class path (the GPU check's
 * carried jars), not the rest of bench. The forks take this JVM's flags (JMH's default), among them
 * {@code --enable-native-access=ALL-UNNAMED}.
 *
 * <p>Arguments, all optional: {@code --memory auto|cuda|host}, {@code --sizes 65536,262144,...}
 * (bytes), {@code --warmup N}, {@code --iterations N}, {@code --time 1s}, {@code --batch-sizes
 * 16384,65536,...} (bytes), {@code --batch-blocks 16,64}, {@code --json FILE}
 * (JMH's JSON results). Exits 1 on a bad argument or a failed benchmark.
 */
public final class GpuCopyCheck {
    private GpuCopyCheck() {
    }

    public static void main(String[] args) throws RunnerException {
        Map<String, String> opts = new LinkedHashMap<>(Map.of("--memory", "auto", "--sizes", "65536,262144,1048576,4194304",
                "--warmup", "2", "--iterations", "3", "--time", "1s", "--batch-sizes", "16384,65536,262144",
                "--batch-blocks", "16,64"));
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                System.err.println("usage: GpuCopyCheck [--memory auto|cuda|host] [--sizes BYTES,...] [--warmup N]"
                        + " [--iterations N] [--time 1s] [--batch-sizes BYTES,...] [--batch-blocks N,...] [--json FILE]");
                System.exit(1);
            }
            opts.put(args[i], args[i + 1]);
        }
        TimeValue time = TimeValue.fromString(opts.get("--time"));
        ChainedOptionsBuilder builder = new OptionsBuilder()
                .include(GpuCopyBenchmark.class.getName() + "\\.")
                .param("memory", opts.get("--memory"))
                .param("blockBytes", opts.get("--sizes").split(","))
                .param("batchBlockBytes", opts.get("--batch-sizes").split(","))
                .param("batchBlocks", opts.get("--batch-blocks").split(","))
                .forks(1)
                .warmupIterations(Integer.parseInt(opts.get("--warmup")))
                .measurementIterations(Integer.parseInt(opts.get("--iterations")))
                .warmupTime(time)
                .measurementTime(time)
                .shouldFailOnError(true);
        if (opts.containsKey("--json")) {
            builder.result(opts.get("--json")).resultFormat(ResultFormatType.JSON);
        }
        Collection<RunResult> results = new Runner(builder.build()).run();
        System.out.println();
        System.out.println(report(results));
    }

    /** The tables: one row per block size, then one per number and size of many small blocks. */
    static String report(Collection<RunResult> results) {
        Map<Integer, Map<String, Double>> bySize = new java.util.TreeMap<>();
        Map<List<Integer>, Map<String, Double>> byBatch = new java.util.TreeMap<>(
                java.util.Comparator.<List<Integer>>comparingInt(k -> k.get(0)).thenComparingInt(k -> k.get(1)));
        for (RunResult r : results) {
            String method = r.getParams().getBenchmark();
            method = method.substring(method.lastIndexOf('.') + 1);
            if (method.startsWith("many")) {
                byBatch.computeIfAbsent(List.of(Integer.parseInt(r.getParams().getParam("batchBlocks")),
                                Integer.parseInt(r.getParams().getParam("batchBlockBytes"))), k -> new LinkedHashMap<>())
                        .put(method, r.getPrimaryResult().getScore());
                continue;
            }
            int size = Integer.parseInt(r.getParams().getParam("blockBytes"));
            bySize.computeIfAbsent(size, k -> new LinkedHashMap<>()).put(method, r.getPrimaryResult().getScore());
        }
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "%-9s %9s %9s %6s %9s %9s %6s %9s %9s %9s %9s",
                "block", "tier H2D", "raw H2D", "ratio", "tier D2H", "raw D2H", "ratio",
                "16 each", "16 batch", "GPU hit", "DRAM hit"));
        for (Map.Entry<Integer, Map<String, Double>> e : bySize.entrySet()) {
            int size = e.getKey();
            Map<String, Double> m = e.getValue();
            double tierIn = gbps(m, "tierToDevice", size, 1);
            double rawIn = gbps(m, "rawToDevice", size, 1);
            double tierOut = gbps(m, "tierToHost", size, 1);
            double rawOut = gbps(m, "rawToHost", size, 1);
            lines.add(String.format(Locale.ROOT, "%-9s %9.2f %9.2f %6.2f %9.2f %9.2f %6.2f %9.2f %9.2f %9.2f %9.2f",
                    size / 1024 + " KiB", tierIn, rawIn, tierIn / rawIn, tierOut, rawOut, tierOut / rawOut,
                    gbps(m, "tierReadEach", size, GpuCopyBenchmark.BATCH), gbps(m, "tierReadBatch", size, GpuCopyBenchmark.BATCH),
                    gbps(m, "hitGpu", size, 1), gbps(m, "hitDram", size, 1)));
        }
        lines.add("GB/s (10^9 bytes per second); ratio = tier / raw.");
        if (!byBatch.isEmpty()) {
            lines.add("");
            lines.add(String.format(Locale.ROOT, "%-14s %10s %10s %6s %10s %10s %6s", "many blocks", "read each",
                    "read batch", "ratio", "put each", "put batch", "ratio"));
            for (Map.Entry<List<Integer>, Map<String, Double>> e : byBatch.entrySet()) {
                int blocks = e.getKey().get(0);
                int size = e.getKey().get(1);
                Map<String, Double> m = e.getValue();
                double readEach = gbps(m, "manyReadEach", size, blocks);
                double readBatch = gbps(m, "manyReadBatched", size, blocks);
                double putEach = gbps(m, "manyWriteEach", size, blocks);
                double putBatch = gbps(m, "manyWriteBatched", size, blocks);
                lines.add(String.format(Locale.ROOT, "%-14s %10.2f %10.2f %6.2f %10.2f %10.2f %6.2f",
                        blocks + " x " + size / 1024 + " KiB", readEach, readBatch, readBatch / readEach,
                        putEach, putBatch, putBatch / putEach));
            }
            lines.add("GB/s; ratio = batched / one copy per block (above 1: the batched copy is faster).");
        }
        return String.join(System.lineSeparator(), lines);
    }

    private static double gbps(Map<String, Double> scores, String method, int blockBytes, int blocksPerOp) {
        Double opsPerSecond = scores.get(method);
        return opsPerSecond == null ? Double.NaN : opsPerSecond * blockBytes * blocksPerOp / 1e9;
    }
}
