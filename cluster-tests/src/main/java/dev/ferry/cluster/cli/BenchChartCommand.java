package dev.ferry.cluster.cli;

import dev.ferry.cluster.bench.JmhThroughputChart;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ferry bench chart}: throughput by request size from a JMH JSON result file. */
@Command(name = "chart", mixinStandardHelpOptions = true,
        description = "Chart the transport benchmarks from './ferry jmh -rf json -rff FILE'.")
final class BenchChartCommand implements Callable<Integer> {
    @Option(names = "--jmh", required = true, description = "JMH result file (JSON).")
    Path jmh;

    @Option(names = "--out", defaultValue = "transport-throughput.png", description = "PNG to write (default ${DEFAULT-VALUE}).")
    Path out;

    @Override
    public Integer call() {
        List<JmhThroughputChart.Point> points = JmhThroughputChart.read(jmh);
        if (points.isEmpty()) {
            throw new IllegalArgumentException(jmh + " holds no throughput results with a size parameter");
        }
        points.forEach(p -> System.out.printf("%-40s %10d bytes %8.2f GB/s%n", p.series(), p.sizeBytes(), p.gbps()));
        System.out.println("wrote " + JmhThroughputChart.write(points, out));
        return ExitCodes.OK;
    }
}
