package dev.ferry.cluster.cli;

import dev.ferry.cluster.netns.NetnsTestBed;
import dev.ferry.cluster.netns.ShapedTarget;
import dev.ferry.cluster.report.ArrowFiles;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.cli.ByteSizes;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.transport.Link;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry bench failover}: writes over real shaped links (a network namespace joined by
 * veth pairs shaped with tc tbf), takes one link down mid-transfer and brings it back, and
 * records each link's throughput every 200 ms. Needs root.
 */
@Command(name = "failover", mixinStandardHelpOptions = true,
        description = "Per-link throughput over time while a link fails and comes back (root, network namespaces).")
final class BenchFailoverCommand implements Callable<Integer> {
    private static final long SAMPLE_MILLIS = 200;

    @Option(names = "--rates", split = ",", defaultValue = "200,200,200,200", description = "Link rates, Mbit/s "
            + "(default ${DEFAULT-VALUE}).")
    List<Integer> rates;

    @Option(names = "--bytes", defaultValue = "384MiB", description = "Bytes to write (default ${DEFAULT-VALUE}).")
    String bytes;

    @Option(names = "--cut-link", defaultValue = "1", description = "Link to take down (default ${DEFAULT-VALUE}).")
    int cutLink;

    @Option(names = "--cut-after-ms", defaultValue = "800", description = "When to take it down, ms (default ${DEFAULT-VALUE}).")
    long cutAfterMillis;

    @Option(names = "--restore-after-ms", defaultValue = "2500", description = "When to bring it back, ms "
            + "(default ${DEFAULT-VALUE}).")
    long restoreAfterMillis;

    @Option(names = "--out", description = "Results directory (default ferry-out/failover-<time>).")
    Path out;

    @Override
    public Integer call() throws Exception {
        var unavailable = NetnsTestBed.unavailableReason();
        if (unavailable.isPresent()) {
            throw new IllegalStateException("ferry bench failover needs network namespaces: " + unavailable.get());
        }
        if (cutLink < 0 || cutLink >= rates.size()) {
            throw new IllegalArgumentException("--cut-link must name one of the " + rates.size() + " links");
        }
        long total = ByteSizes.parse(bytes);
        long segment = Math.min(total, 256L << 20);
        Path dir = out != null ? out : Path.of("ferry-out", "failover-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(dir);
        try (ShapedTarget target = ShapedTarget.start("f" + ProcessHandle.current().pid() % 10000, segment,
                dir.resolve("target.log"), rates.stream().mapToInt(Integer::intValue).toArray());
             Slab source = Slab.allocate(segment);
             TransferEngine engine = new TransferEngine(target.initiatorContext())) {
            return run(target.bed(), engine, target.descriptor(), source, total, dir);
        }
    }

    private int run(NetnsTestBed bed, TransferEngine engine, SegmentDescriptor d, Slab source, long total, Path dir)
            throws Exception {
        List<? extends Link> links = engine.links(d);
        List<double[]> rows = new ArrayList<>(); // time s, then Mbit/s per link
        long start = System.nanoTime();
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            long[] last = new long[links.size()];
            long lastAt = start;
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    TimeUnit.MILLISECONDS.sleep(SAMPLE_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
                long now = System.nanoTime();
                double[] row = new double[links.size() + 1];
                row[0] = (now - start) / 1e9;
                for (int i = 0; i < links.size(); i++) {
                    long b = links.get(i).estimator().bytes();
                    row[i + 1] = (b - last[i]) * 8 / ((now - lastAt) / 1e9) / 1e6;
                    last[i] = b;
                }
                lastAt = now;
                synchronized (rows) {
                    rows.add(row);
                }
            }
        });
        Thread faults = Thread.ofPlatform().daemon().start(() -> {
            try {
                TimeUnit.MILLISECONDS.sleep(cutAfterMillis);
                bed.setLinkUp(cutLink, false);
                TimeUnit.MILLISECONDS.sleep(Math.max(0, restoreAfterMillis - cutAfterMillis));
                bed.setLinkUp(cutLink, true);
            } catch (InterruptedException ignored) {
                // the transfer ended first
            }
        });
        long chunk = d.bytes();
        for (long done = 0; done < total; done += chunk) {
            long n = Math.min(chunk, total - done);
            engine.submit(List.of(TransferRequest.write(source.memory(), 0, d.name(), 0, n))).await();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        faults.interrupt();
        sampler.interrupt();
        sampler.join();
        System.out.printf("wrote %.0f MiB over %d links %s Mbit/s in %.2f s (%.0f Mbit/s); link %d down from %d ms to "
                        + "%d ms; %d slices resent%n", total / 1048576.0, links.size(), rates, seconds,
                total * 8 / seconds / 1e6, cutLink, cutAfterMillis, restoreAfterMillis, engine.sliceRetries());
        List<double[]> samples;
        synchronized (rows) {
            samples = List.copyOf(rows);
        }
        writeArrow(dir.resolve("failover.arrow"), samples, links.size());
        writeChart(dir.resolve("failover-links.png"), samples, links);
        System.out.println("  wrote " + dir.resolve("failover.arrow"));
        System.out.println("  wrote " + dir.resolve("failover-links.png"));
        return ExitCodes.OK;
    }

    private static void writeArrow(Path file, List<double[]> rows, int links) throws Exception {
        try (RootAllocator allocator = new RootAllocator()) {
            List<org.apache.arrow.vector.FieldVector> vectors = new ArrayList<>();
            for (int c = 0; c <= links; c++) {
                Float8Vector v = new Float8Vector(c == 0 ? "second" : "link" + (c - 1) + "_mbps", allocator);
                v.allocateNew(rows.size());
                vectors.add(v);
            }
            try (VectorSchemaRoot root = new VectorSchemaRoot(vectors)) {
                for (int r = 0; r < rows.size(); r++) {
                    for (int c = 0; c <= links; c++) {
                        ((Float8Vector) root.getVector(c)).set(r, rows.get(r)[c]);
                    }
                }
                root.setRowCount(rows.size());
                ArrowFiles.write(file, root);
            }
        }
    }

    private void writeChart(Path file, List<double[]> rows, List<? extends Link> links) throws Exception {
        XYChart chart = new XYChartBuilder().width(1000).height(500)
                .title("per-link throughput; link " + cutLink + " down " + cutAfterMillis + "-" + restoreAfterMillis + " ms")
                .xAxisTitle("time (s)").yAxisTitle("Mbit/s").build();
        chart.getStyler().setMarkerSize(0);
        chart.getStyler().setXAxisDecimalPattern("0.0");
        double[] x = rows.stream().mapToDouble(r -> r[0]).toArray();
        for (int i = 0; i < links.size(); i++) {
            int column = i + 1;
            XYSeries s = chart.addSeries(links.get(i).name() + " (" + rates.get(i) + " Mbit/s)",
                    x.length == 0 ? new double[] {0} : x,
                    x.length == 0 ? new double[] {0} : rows.stream().mapToDouble(r -> r[column]).toArray());
            s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        }
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
