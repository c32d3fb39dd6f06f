package dev.ferry.cluster.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * Draws throughput against request size, one line per benchmark method and setting of its
 * other parameters (each transport beside its baseline; e.g. Aeron over {@code udp} and
 * {@code ipc} apart), from a JMH JSON result file ({@code ./ferry jmh -rf json}). Bytes
 * per operation follow the benchmarks' convention: {@code requestBytes} when that parameter
 * exists (one request per operation), else 64 MiB (a batch of {@code chunkBytes} requests).
 * Stateless; thread-safe.
 */
public final class JmhThroughputChart {
    private static final double BATCH_BYTES = 64.0 * (1 << 20);

    private JmhThroughputChart() {
    }

    /** One point: a benchmark method at a size, in GB/s. */
    public record Point(String series, long sizeBytes, double gbps) {
    }

    /** Reads the points of a JMH JSON result file. */
    public static List<Point> read(Path jmhJson) {
        try {
            List<Point> points = new ArrayList<>();
            for (JsonNode run : new ObjectMapper().readTree(jmhJson.toFile())) {
                String[] name = run.get("benchmark").asText().split("\\.");
                JsonNode params = run.get("params");
                String series = name[name.length - 2].replace("Benchmark", "") + "." + name[name.length - 1]
                        + settings(params);
                double score = run.get("primaryMetric").get("score").asDouble();
                String unit = run.get("primaryMetric").get("scoreUnit").asText();
                if (params == null || !unit.equals("ops/s")) {
                    continue;
                }
                long size;
                double bytesPerOp;
                if (params.has("requestBytes")) {
                    size = params.get("requestBytes").asLong();
                    bytesPerOp = size;
                } else if (params.has("chunkBytes")) {
                    size = params.get("chunkBytes").asLong();
                    bytesPerOp = BATCH_BYTES;
                } else {
                    continue;
                }
                points.add(new Point(series, size, score * bytesPerOp / 1e9));
            }
            return points;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read JMH results " + jmhJson, e);
        }
    }

    /** The parameters other than the size, as {@code " (key=value, ...)"}, or empty. */
    private static String settings(JsonNode params) {
        if (params == null) {
            return "";
        }
        List<String> settings = new ArrayList<>();
        params.properties().forEach(p -> {
            if (!p.getKey().equals("requestBytes") && !p.getKey().equals("chunkBytes")) {
                settings.add(p.getKey() + "=" + p.getValue().asText());
            }
        });
        return settings.isEmpty() ? "" : " (" + String.join(", ", settings) + ")";
    }

    /** Writes the chart as a PNG. */
    public static Path write(List<Point> points, Path png) {
        XYChart chart = new XYChartBuilder().width(1000).height(560).title("throughput by request size (JMH)")
                .xAxisTitle("request size (KiB, log scale)").yAxisTitle("GB/s").build();
        chart.getStyler().setXAxisLogarithmic(true).setYAxisLogarithmic(true)
                .setLegendPosition(Styler.LegendPosition.OutsideE);
        Map<String, TreeMap<Long, Double>> series = new TreeMap<>();
        for (Point p : points) {
            series.computeIfAbsent(p.series(), s -> new TreeMap<>()).put(p.sizeBytes(), p.gbps());
        }
        series.forEach((name, line) -> chart.addSeries(name,
                line.keySet().stream().mapToDouble(b -> b / 1024.0).toArray(),
                line.values().stream().mapToDouble(Double::doubleValue).toArray()));
        try {
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png, e);
        }
        return png;
    }
}
