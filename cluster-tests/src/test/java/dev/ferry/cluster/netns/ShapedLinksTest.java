package dev.ferry.cluster.netns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.BatchHandle;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.spray.EarliestFinishPolicy;
import dev.ferry.transfer.spray.RoundRobinPolicy;
import dev.ferry.transfer.transport.Link;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spraying and healing over real links: a target process in its own network namespace,
 * reached over veth links shaped with tc tbf. Throughput figures are printed (the JMH
 * suite and docs/benchmarks.md hold the targets); the assertions are on where the bytes
 * went and on what survives a link failure.
 */
class ShapedLinksTest {
    private static final long SEGMENT = 320L << 20;

    @BeforeAll
    static void needsNamespaces() {
        var reason = NetnsTestBed.unavailableReason();
        Assumptions.assumeTrue(reason.isEmpty(), () -> "no network namespaces here: " + reason.orElse(""));
    }

    private static double[] shares(List<? extends Link> links) {
        return shares(links, new long[links.size()]);
    }

    /** Each link's share of the bytes the links carried since {@code before} (from {@link #bytes}). */
    private static double[] shares(List<? extends Link> links, long[] before) {
        long[] now = bytes(links);
        double total = 0;
        for (int i = 0; i < now.length; i++) {
            total += now[i] - before[i];
        }
        double[] shares = new double[now.length];
        for (int i = 0; i < now.length; i++) {
            shares[i] = (now[i] - before[i]) / total;
        }
        return shares;
    }

    private static long[] bytes(List<? extends Link> links) {
        return links.stream().mapToLong(l -> l.estimator().bytes()).toArray();
    }

    /** Writes until every link of the engine is up: links connect on first use, not all at once. */
    private static void warmUp(TransferEngine engine, ShapedTarget target, MemorySegment src) {
        write(engine, src, 16L << 20);
        await("every link up").atMost(Duration.ofSeconds(20)).until(() -> {
            write(engine, src, 1L << 20);
            return engine.links(target.descriptor()).stream().allMatch(Link::isUp);
        });
    }

    private static double write(TransferEngine engine, MemorySegment src, long bytes) {
        long start = System.nanoTime();
        engine.submit(List.of(TransferRequest.write(src, 0, "target/dram", 0, bytes))).await();
        return bytes * 8 / ((System.nanoTime() - start) / 1e9) / 1e6;
    }

    @Test
    void sprayingSharesBytesByMeasuredRateWhereRoundRobinSplitsEvenly(@TempDir Path dir) throws Exception {
        int[] rates = {800, 400, 200, 100};
        try (ShapedTarget target = ShapedTarget.start("s" + ProcessHandle.current().pid() % 1000, SEGMENT,
                     dir.resolve("target.log"), rates);
             Slab src = Slab.allocate(SEGMENT)) {
            fill(src.memory(), SEGMENT);
            double sprayMbits;
            double[] spray;
            try (TransferEngine engine = new TransferEngine(target.initiatorContext().sprayPolicy(new EarliestFinishPolicy()))) {
                warmUp(engine, target, src.memory()); // every link up and measured
                long before = engine.links(target.descriptor()).stream().mapToLong(l -> l.estimator().bytes()).sum();
                sprayMbits = write(engine, src.memory(), 256L << 20);
                assertThat(before).isPositive();
                spray = shares(engine.links(target.descriptor()));
                verifyRead(engine, src.memory(), 256L << 20);
            }
            double rrMbits;
            double[] rr;
            try (TransferEngine engine = new TransferEngine(target.initiatorContext().sprayPolicy(new RoundRobinPolicy()))) {
                warmUp(engine, target, src.memory());
                long[] before = bytes(engine.links(target.descriptor()));
                rrMbits = write(engine, src.memory(), 64L << 20);
                rr = shares(engine.links(target.descriptor()), before);
            }
            double rawMbits;
            try (RawSplitBaseline raw = new RawSplitBaseline(target.bed(), rates, dir.resolve("raw-sink.log"))) {
                long bytes = 256L << 20;
                rawMbits = bytes * 8 / (raw.write(bytes) / 1e9) / 1e6;
            }
            System.out.printf("shaped links %s Mbit/s (sum 1500): raw TCP, one stream per link with the ideal split, "
                    + "%.0f Mbit/s; spraying %.0f Mbit/s (%.0f%% of the sum, %.0f%% of raw TCP), round-robin %.0f Mbit/s; "
                    + "spraying shares %s%n", java.util.Arrays.toString(rates), rawMbits, sprayMbits, sprayMbits / 15,
                    100 * sprayMbits / rawMbits, rrMbits, java.util.Arrays.toString(spray));
            // Shares follow the rates: the fastest link carries the most, the slowest the least.
            assertThat(spray[0]).isGreaterThan(spray[1]).isGreaterThan(0.40);
            assertThat(spray[1]).isGreaterThan(spray[2]);
            assertThat(spray[2]).isGreaterThan(spray[3]);
            assertThat(spray[3]).isLessThan(0.12);
            assertThat(java.util.Arrays.stream(rr).boxed().toList()).allSatisfy(s -> assertThat(s).isBetween(0.22, 0.28));
        }
    }

    @Test
    void aLinkCutMidTransferStallsItBrieflyAndIsUsedAgainWhenItComesBack(@TempDir Path dir) throws Exception {
        try (ShapedTarget target = ShapedTarget.start("h" + ProcessHandle.current().pid() % 1000, SEGMENT,
                     dir.resolve("target.log"), 200, 200, 200, 200);
             Slab src = Slab.allocate(SEGMENT)) {
            fill(src.memory(), SEGMENT);
            try (TransferEngine engine = new TransferEngine(target.initiatorContext().sprayPolicy(new EarliestFinishPolicy()))) {
                List<? extends Link> links = engine.links(target.descriptor());
                ProgressMonitor monitor = new ProgressMonitor(links);
                long length = 256L << 20;
                BatchHandle handle = engine.submit(List.of(TransferRequest.write(src.memory(), 0, "target/dram", 0,
                        length)));
                TimeUnit.MILLISECONDS.sleep(800);
                long cut = System.nanoTime();
                target.bed().setLinkUp(1, false);
                handle.completion().get(60, TimeUnit.SECONDS);
                long end = System.nanoTime();
                monitor.close();
                long stall = monitor.longestPause(cut, end);
                System.out.printf("link cut mid-transfer (256 MiB over 4 x 200 Mbit/s): longest stall of all progress "
                        + "after the cut %.1f ms, detection timeout 500 ms; %d slices resent%n", stall / 1e6,
                        engine.sliceRetries());
                assertThat(engine.sliceRetries()).isPositive();
                assertThat(links.get(1).isUp()).isFalse();
                verifyRead(engine, src.memory(), length);

                target.bed().setLinkUp(1, true);
                await("the link is probed and readmitted").atMost(Duration.ofSeconds(15))
                        .pollInterval(Duration.ofMillis(50)).until(() -> links.get(1).isUp());
                long before = links.get(1).estimator().bytes();
                write(engine, src.memory(), 64L << 20);
                assertThat(links.get(1).estimator().bytes()).isGreaterThan(before);
            }
        }
    }

    private static void fill(MemorySegment m, long bytes) {
        for (long i = 0; i < bytes; i += 8) {
            m.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 0x9E3779B97F4A7C15L + 1);
        }
    }

    private static void verifyRead(TransferEngine engine, MemorySegment expected, long bytes) {
        try (Slab back = Slab.allocate(bytes)) {
            engine.submit(List.of(TransferRequest.read(back.memory(), 0, "target/dram", 0, bytes))).await();
            assertThat(back.memory().mismatch(expected.asSlice(0, bytes))).isEqualTo(-1);
        }
    }
}
