package dev.ferry.cluster.report;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;

/**
 * Writes a replay's per-request results as {@code requests.arrow} (Arrow IPC file, one row
 * per request; open it with pandas, Polars or DuckDB), {@code requests.csv}, and the chart
 * {@code ttft-cdf.png} (the CDF of TTFT). Stateless; thread-safe.
 */
public final class ReportFiles {
    private static final String[] COLUMNS = {"index", "arrival_ns", "blocks", "hit_blocks", "bytes_written",
        "bytes_read", "queue_ns", "compute_ns", "write_ns", "read_ns", "ttft_ns", "tbt_ns", "verify_failures", "error"};

    private ReportFiles() {
    }

    /** @return the files written */
    public static List<Path> write(Path dir, List<RequestResult> results, String title) {
        try {
            Files.createDirectories(dir);
            List<Path> out = new ArrayList<>();
            out.add(writeArrow(dir.resolve("requests.arrow"), results));
            out.add(writeCsv(dir.resolve("requests.csv"), results));
            out.add(writeCdf(dir.resolve("ttft-cdf.png"), results, title));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the report into " + dir, e);
        }
    }

    private static long[] values(RequestResult r) {
        return new long[] {r.index(), r.arrivalNanos(), r.blocks(), r.hitBlocks(), r.bytesWritten(), r.bytesRead(),
            r.queueNanos(), r.computeNanos(), r.writeNanos(), r.readNanos(), r.ttftNanos(), r.tbtNanos(),
            r.verifyFailures()};
    }

    static Path writeArrow(Path file, List<RequestResult> results) throws IOException {
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot root = VectorSchemaRoot.of(vectors(allocator))) {
            int n = results.size();
            for (int row = 0; row < n; row++) {
                RequestResult r = results.get(row);
                long[] v = values(r);
                for (int c = 0; c < v.length; c++) {
                    if (root.getVector(c) instanceof IntVector iv) {
                        iv.setSafe(row, (int) v[c]);
                    } else {
                        ((BigIntVector) root.getVector(c)).setSafe(row, v[c]);
                    }
                }
                VarCharVector error = (VarCharVector) root.getVector(COLUMNS.length - 1);
                if (r.error() == null) {
                    error.setNull(row);
                } else {
                    error.setSafe(row, r.error().getBytes(StandardCharsets.UTF_8));
                }
            }
            root.setRowCount(n);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
                 ArrowFileWriter writer = new ArrowFileWriter(root, null, channel)) {
                writer.start();
                writer.writeBatch();
                writer.end();
            }
        }
        return file;
    }

    private static org.apache.arrow.vector.FieldVector[] vectors(BufferAllocator allocator) {
        List<org.apache.arrow.vector.FieldVector> v = new ArrayList<>();
        for (int c = 0; c < COLUMNS.length - 1; c++) {
            String name = COLUMNS[c];
            boolean small = name.equals("index") || name.equals("blocks") || name.equals("hit_blocks")
                    || name.equals("verify_failures");
            v.add(small ? new IntVector(name, allocator) : new BigIntVector(name, allocator));
        }
        v.add(new VarCharVector(COLUMNS[COLUMNS.length - 1], allocator));
        v.forEach(org.apache.arrow.vector.ValueVector::allocateNew);
        return v.toArray(org.apache.arrow.vector.FieldVector[]::new);
    }

    static Path writeCsv(Path file, List<RequestResult> results) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write(String.join(",", COLUMNS));
            w.write('\n');
            for (RequestResult r : results) {
                StringBuilder line = new StringBuilder();
                for (long v : values(r)) {
                    line.append(v).append(',');
                }
                if (r.error() != null) {
                    line.append('"').append(r.error().replace("\"", "\"\"")).append('"');
                }
                w.write(line.append('\n').toString());
            }
        }
        return file;
    }

    static Path writeCdf(Path file, List<RequestResult> results, String title) throws IOException {
        double[] ttft = results.stream().filter(r -> !r.failed()).mapToDouble(r -> r.ttftNanos() / 1e6).sorted()
                .toArray();
        if (ttft.length == 0) {
            ttft = new double[] {0};
        }
        double[] fraction = new double[ttft.length];
        Arrays.setAll(fraction, i -> (i + 1) / (double) fraction.length);
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title)
                .xAxisTitle("TTFT (ms)").yAxisTitle("fraction of requests").build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setMarkerSize(0);
        XYSeries series = chart.addSeries("TTFT", ttft, fraction);
        series.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
