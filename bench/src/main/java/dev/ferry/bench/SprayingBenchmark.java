package dev.ferry.bench;

import dev.ferry.cluster.netns.RawSplitBaseline;
import dev.ferry.cluster.netns.ShapedTarget;
import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.spray.EarliestFinishPolicy;
import dev.ferry.transfer.spray.RoundRobinPolicy;
import dev.ferry.transfer.spray.SprayPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Spraying against round-robin over real links of different rates, beside the links'
 * physical capacity, in the same run. A target process in its own network namespace is
 * reached over one veth pair per rate in {@code ratesMbits}, each shaped with
 * {@code tc qdisc tbf} ({@link ShapedTarget}); the engine writes {@code totalMiB} per
 * operation, as requests of {@code requestMiB}, over one TCP link per veth pair.
 * {@code policy} is {@code spraying} ({@link EarliestFinishPolicy}, the default) or
 * {@code round-robin} ({@link RoundRobinPolicy}). The baseline, {@code rawTcpIdealSplit},
 * writes the same bytes as one raw TCP stream per link, each given its link's share in
 * proportion to the configured rates ({@link RawSplitBaseline}): the best any split can do.
 *
 * <p>With {@code dropLink} set to a link's index, that link's rate drops to a quarter halfway
 * through each {@code engineWrite} (at half the time the summed rates would take, as a
 * network path that degrades mid-transfer) and is restored before the next ({@link RateDrop};
 * the rate changes are not timed). The operation then cannot beat its ideal time: the first
 * half of the bytes at the summed rates, the rest at the summed rates after the drop
 * ({@link RateDrop#idealSeconds}). The raw baseline never drops.
 *
 * <p>Each benchmark also reports {@code megabits} (secondary result, Mbit/s): read the
 * ratios spraying / raw and spraying / round-robin from those rows of one run.
 *
 * <p>Needs root and iproute2 (network namespaces, veth, tc tbf); elsewhere its setup throws
 * {@link IllegalStateException} saying so, and JMH goes on with the other benchmarks.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 8)
@Measurement(iterations = 3, time = 8)
@Fork(1)
public class SprayingBenchmark {
    /** Prefix of the message a setup throws where namespaces cannot be made. */
    public static final String UNAVAILABLE = "SprayingBenchmark needs network namespaces";

    /** The shaped links, the target behind them and the source bytes. */
    @State(Scope.Benchmark)
    public static class Links {
        /** Link rates, Mbit/s, separated by '/' (JMH splits parameter values on commas). */
        @Param({"800/400/200/100", "800/200"})
        public String ratesMbits;

        /** Bytes written per operation, MiB. */
        @Param({"256"})
        public int totalMiB;

        /** Index of the link whose rate drops to a quarter mid-operation, or -1 for none. */
        @Param({"-1"})
        public int dropLink;

        int[] rates;
        long totalBytes;
        Path dir;
        ShapedTarget target;
        Slab source;
        /** What the other states opened over these links, closed first (JMH tears this state down before them). */
        private final Deque<AutoCloseable> dependents = new ArrayDeque<>();

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            rates = Arrays.stream(ratesMbits.split("/")).mapToInt(Integer::parseInt).toArray();
            totalBytes = (long) totalMiB << 20;
            dir = Files.createTempDirectory("ferry-bench-spray");
            try {
                target = ShapedTarget.start("j" + ProcessHandle.current().pid() % 10000, totalBytes,
                        dir.resolve("target.log"), rates);
            } catch (IllegalStateException e) {
                throw new IllegalStateException(UNAVAILABLE + " (root, iproute2, tc tbf): " + e.getMessage(), e);
            }
            source = Slab.allocate(totalBytes);
            source.memory().fill((byte) 7);
        }

        /** Closes {@code resource} at tear-down, before the target and in reverse order of opening. */
        <T extends AutoCloseable> T own(T resource) {
            dependents.push(resource);
            return resource;
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            while (!dependents.isEmpty()) {
                dependents.pop().close();
            }
            if (source != null) {
                source.close();
            }
            if (target != null) {
                target.close();
            }
        }
    }

    /** The initiator engine with the policy under test. */
    @State(Scope.Benchmark)
    public static class Engine {
        /** {@code spraying} (earliest finish, paced) or {@code round-robin}. */
        @Param({"spraying", "round-robin"})
        public String policy;

        /** Bytes per request, MiB. */
        @Param({"64"})
        public int requestMiB;

        TransferEngine engine;
        List<TransferRequest> batch;

        @Setup(Level.Trial)
        public void setUp(Links links) {
            SprayPolicy p = switch (policy) {
                case "spraying" -> new EarliestFinishPolicy();
                case "round-robin" -> new RoundRobinPolicy();
                default -> throw new IllegalArgumentException("policy is spraying or round-robin, not " + policy);
            };
            engine = links.own(new TransferEngine(links.target.initiatorContext().sprayPolicy(p)));
            long request = Math.min((long) requestMiB << 20, links.totalBytes);
            batch = new ArrayList<>();
            for (long at = 0; at < links.totalBytes; at += request) {
                long n = Math.min(request, links.totalBytes - at);
                batch.add(TransferRequest.write(links.source.memory(), at, ShapedTarget.SEGMENT_NAME, at, n));
            }
        }
    }

    /**
     * Drops link {@code dropLink} to a quarter of its rate halfway through each engine
     * operation, and restores it before the next (per invocation, untimed).
     */
    @State(Scope.Benchmark)
    public static class RateDrop {
        private ScheduledExecutorService timer;
        private ScheduledFuture<?> pending;
        private volatile boolean dropped;

        @Setup(Level.Trial)
        public void setUp(Links links) {
            if (links.dropLink >= links.rates.length) {
                throw new IllegalArgumentException("dropLink " + links.dropLink + " names none of the "
                        + links.rates.length + " links");
            }
            timer = Executors.newSingleThreadScheduledExecutor(
                    Thread.ofPlatform().daemon().name("rate-drop").factory());
            links.own(timer::shutdownNow);
            System.out.printf("links %s Mbit/s, link %d dropping to a quarter halfway: "
                            + "the summed rates allow %.0f Mbit/s%n",
                    links.ratesMbits, links.dropLink,
                    links.totalBytes * 8 / 1e6 / idealSeconds(links.totalBytes, links.rates, links.dropLink));
        }

        /** Restores the link, then schedules its drop for half the ideal undisturbed time from now. */
        @Setup(Level.Invocation)
        public void arm(Links links) throws Exception {
            if (links.dropLink < 0) {
                return;
            }
            if (pending != null) {
                pending.get(); // a drop still running finishes before its restore
            }
            if (dropped) {
                links.target.bed().setRate(links.dropLink, links.rates[links.dropLink]);
                dropped = false;
            }
            long halfNanos = (long) (links.totalBytes * 8 / 2.0 / (Arrays.stream(links.rates).sum() * 1e6) * 1e9);
            pending = timer.schedule(() -> {
                links.target.bed().setRate(links.dropLink, Math.max(1, links.rates[links.dropLink] / 4));
                dropped = true;
            }, halfNanos, TimeUnit.NANOSECONDS);
        }

        /**
         * The least time one operation can take, seconds: half the bytes at the summed rates, the
         * other half at the summed rates with link {@code drop} at a quarter.
         */
        static double idealSeconds(long bytes, int[] ratesMbits, int drop) {
            double sum = Arrays.stream(ratesMbits).sum() * 1e6;
            if (drop < 0) {
                return bytes * 8 / sum;
            }
            double after = sum - ratesMbits[drop] * 1e6 * 3 / 4;
            return bytes * 8 / 2 / sum + bytes * 8 / 2 / after;
        }
    }

    /** The physical baseline's sink and streams. */
    @State(Scope.Benchmark)
    public static class Raw {
        RawSplitBaseline raw;

        @Setup(Level.Trial)
        public void setUp(Links links) {
            raw = links.own(new RawSplitBaseline(links.target.bed(), links.rates, links.dir.resolve("raw-sink.log")));
        }
    }

    /** Megabits moved, reported by JMH as a rate (Mbit/s) beside each benchmark's operations per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Megabits {
        private long bits;

        /** Mbit moved so far in this iteration. */
        public long megabits() {
            return bits / 1_000_000;
        }

        @Setup(Level.Iteration)
        public void reset() {
            bits = 0;
        }

        void add(long bytes) {
            bits += bytes * 8;
        }
    }

    @Benchmark
    public void engineWrite(Links links, Engine engine, RateDrop drop, Megabits counter) {
        engine.engine.submit(engine.batch).await();
        counter.add(links.totalBytes);
    }

    @Benchmark
    public void rawTcpIdealSplit(Links links, Raw raw, Megabits counter) {
        raw.raw.write(links.totalBytes);
        counter.add(links.totalBytes);
    }
}
