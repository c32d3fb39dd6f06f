package dev.ferry.cluster.bench;

import dev.ferry.cluster.report.ArrowFiles;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * Writes {@code ferry bench replay} results: {@code replay.json}, {@code replay.arrow} (one
 * row per setting) and {@code hit-ratio.png} (hit ratio against capacity, one line per
 * policy). Stateless; thread-safe.
 */
public final class ReplayBenchReport {
    private ReplayBenchReport() {
    }

    /** @return the files written */
    public static List<Path> write(Path dir, Map<String, Object> settings, List<ReplayPoint> points) {
        try {
            Files.createDirectories(dir);
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("settings", settings);
            root.put("points", points);
            Path json = dir.resolve("replay.json");
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), root);
            return List.of(json, arrow(dir.resolve("replay.arrow"), points), chart(dir.resolve("hit-ratio.png"), points));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the replay report into " + dir, e);
        }
    }

    private static Path arrow(Path file, List<ReplayPoint> points) throws IOException {
        try (RootAllocator allocator = new RootAllocator()) {
            VarCharVector policy = new VarCharVector("policy", allocator);
            BigIntVector capacity = new BigIntVector("capacity_blocks", allocator);
            Float8Vector hit = new Float8Vector("hit_ratio", allocator);
            Float8Vector p50 = new Float8Vector("ttft_p50_ms", allocator);
            Float8Vector p90 = new Float8Vector("ttft_p90_ms", allocator);
            Float8Vector p99 = new Float8Vector("ttft_p99_ms", allocator);
            Float8Vector gbps = new Float8Vector("transfer_gbps", allocator);
            List<org.apache.arrow.vector.FieldVector> vectors = List.of(policy, capacity, hit, p50, p90, p99, gbps);
            vectors.forEach(org.apache.arrow.vector.ValueVector::allocateNew);
            try (VectorSchemaRoot root = new VectorSchemaRoot(new ArrayList<>(vectors))) {
                for (int i = 0; i < points.size(); i++) {
                    ReplayPoint p = points.get(i);
                    policy.setSafe(i, p.policy().getBytes(StandardCharsets.UTF_8));
                    capacity.setSafe(i, p.capacityBlocks());
                    hit.setSafe(i, p.hitRatio());
                    p50.setSafe(i, p.ttftP50Ms());
                    p90.setSafe(i, p.ttftP90Ms());
                    p99.setSafe(i, p.ttftP99Ms());
                    gbps.setSafe(i, p.transferGBps());
                }
                root.setRowCount(points.size());
                ArrowFiles.write(file, root);
            }
        }
        return file;
    }

    private static Path chart(Path file, List<ReplayPoint> points) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(500).title("prefix hit ratio by store capacity")
                .xAxisTitle("capacity (KV blocks)").yAxisTitle("hit ratio").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        points.stream().map(ReplayPoint::policy).distinct().forEach(policy -> {
            List<ReplayPoint> line = points.stream().filter(p -> p.policy().equals(policy))
                    .sorted((a, b) -> Long.compare(a.capacityBlocks(), b.capacityBlocks())).toList();
            chart.addSeries(policy, line.stream().mapToDouble(ReplayPoint::capacityBlocks).toArray(),
                    line.stream().mapToDouble(ReplayPoint::hitRatio).toArray());
        });
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
