package dev.ferry.cluster.bench;

import dev.ferry.cluster.report.ArrowFiles;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.HistogramIterationValue;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;

/**
 * Writes a transfer benchmark's results: {@code transfer.json} (settings, totals, one entry
 * per second), {@code transfer.arrow} (the per-second samples), {@code transfer-gbps.png}
 * (throughput over time) and {@code transfer-latency-cdf.png}. Stateless; thread-safe.
 */
public final class TransferBenchReport {
    private TransferBenchReport() {
    }

    /** @return the files written */
    public static List<Path> write(Path dir, Map<String, Object> settings, TransferBench.Totals totals) {
        try {
            Files.createDirectories(dir);
            List<Path> files = new ArrayList<>();
            files.add(json(dir.resolve("transfer.json"), settings, totals));
            files.add(arrow(dir.resolve("transfer.arrow"), totals.samples()));
            files.add(throughputChart(dir.resolve("transfer-gbps.png"), settings, totals.samples()));
            files.add(latencyCdf(dir.resolve("transfer-latency-cdf.png"), settings, totals));
            return files;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the benchmark report into " + dir, e);
        }
    }

    private static Path json(Path file, Map<String, Object> settings, TransferBench.Totals t) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("settings", settings);
        Map<String, Object> totals = new LinkedHashMap<>();
        totals.put("seconds", t.seconds());
        totals.put("bytes", t.bytes());
        totals.put("requests", t.requests());
        totals.put("gbps", t.gbps());
        totals.put("requestsPerSecond", t.requestsPerSecond());
        totals.put("batchLatencyP50Ms", t.p50Millis());
        totals.put("batchLatencyP99Ms", t.p99Millis());
        totals.put("batchLatencyP999Ms", t.p999Millis());
        root.put("totals", totals);
        root.put("samples", t.samples());
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), root);
        return file;
    }

    private static Path arrow(Path file, List<TransferSample> samples) throws IOException {
        String[] names = {"second", "gbps", "requests_per_second", "p50_ms", "p99_ms", "p999_ms"};
        try (RootAllocator allocator = new RootAllocator()) {
            List<org.apache.arrow.vector.FieldVector> vectors = new ArrayList<>();
            for (String name : names) {
                Float8Vector v = new Float8Vector(name, allocator);
                v.allocateNew(samples.size());
                vectors.add(v);
            }
            try (VectorSchemaRoot root = new VectorSchemaRoot(vectors)) {
                for (int i = 0; i < samples.size(); i++) {
                    TransferSample s = samples.get(i);
                    double[] row = {s.second(), s.gbps(), s.requestsPerSecond(), s.p50Millis(), s.p99Millis(),
                        s.p999Millis()};
                    for (int c = 0; c < row.length; c++) {
                        ((Float8Vector) root.getVector(c)).set(i, row[c]);
                    }
                }
                root.setRowCount(samples.size());
                ArrowFiles.write(file, root);
            }
        }
        return file;
    }

    private static Path throughputChart(Path file, Map<String, Object> settings, List<TransferSample> samples)
            throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(500).title("ferry bench transfer: " + settings)
                .xAxisTitle("time (s)").yAxisTitle("GB/s").build();
        chart.getStyler().setLegendVisible(false);
        double[] x = samples.stream().mapToDouble(TransferSample::second).toArray();
        double[] y = samples.stream().mapToDouble(TransferSample::gbps).toArray();
        chart.addSeries("GB/s", x.length == 0 ? new double[] {0} : x, y.length == 0 ? new double[] {0} : y);
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }

    private static Path latencyCdf(Path file, Map<String, Object> settings, TransferBench.Totals t) throws IOException {
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (HistogramIterationValue v : t.latency().recordedValues()) {
            x.add(v.getValueIteratedTo() / 1000.0);
            y.add(v.getPercentile() / 100.0);
        }
        if (x.isEmpty()) {
            x.add(0.0);
            y.add(0.0);
        }
        XYChart chart = new XYChartBuilder().width(900).height(500).title("batch latency CDF")
                .xAxisTitle("latency (ms)").yAxisTitle("fraction of batches").build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setMarkerSize(0);
        XYSeries s = chart.addSeries("latency", x, y);
        s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
