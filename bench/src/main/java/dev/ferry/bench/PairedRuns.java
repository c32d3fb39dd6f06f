package dev.ferry.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ferry.cluster.cli.ExitCodes;
import dev.ferry.store.cli.ByteSizes;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Measures a transport beside its baseline in alternating JMH forks and reports the ratio of
 * each pair of forks: round {@code r} runs one fork of the engine and one of the baseline, in
 * the order engine-baseline on even rounds and baseline-engine on odd ones (ABBA), so a drift
 * of the machine during the run weighs on both sides alike. The figure to read is the median
 * of the per-round ratios; their range says how far one round can be trusted.
 *
 * <p>Why: on the 2-core development machine a raw socket pair runs 30% faster in some forks
 * than in others (docs/benchmarks-log.md), so a ratio of two separate JMH runs, or of all engine
 * forks against all baseline forks minutes apart, says more about the minute than about the
 * engine.
 *
 * <p>Run it through {@code ./ferry jmh-pairs}; the JVM flags of this process (those of
 * {@code jvm.properties}) are passed to every fork, as JMH does by default. Not thread-safe;
 * one run at a time per machine (JMH's own lock).
 */
@Command(name = "jmh-pairs", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run a transport benchmark and its baseline in alternating JMH forks; print the ratio per round.")
public final class PairedRuns implements Callable<Integer> {
    @Option(names = "--pair", required = true, completionCandidates = PairNames.class,
            description = "The pair: ${COMPLETION-CANDIDATES}.")
    String pair;

    @Option(names = "--sizes", split = ",", defaultValue = "1MiB",
            description = "Request (and raw chunk) sizes, comma separated (default ${DEFAULT-VALUE}).")
    List<String> sizes;

    @Option(names = "--rounds", defaultValue = "6", description = "Rounds per size: one engine and one baseline fork each (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--warmup", defaultValue = "2", description = "Warm-up iterations per fork (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--iterations", defaultValue = "3", description = "Measured iterations per fork (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--time", defaultValue = "2s", description = "Length of a measured iteration, as JMH writes it (default ${DEFAULT-VALUE}).")
    String time;

    @Option(names = "--forks", defaultValue = "1", hidden = true,
            description = "JMH forks per side and round; 0 runs in this JVM (smoke tests only, not for figures).")
    int forks;

    @Option(names = "--engine-param", split = ",", paramLabel = "NAME=VALUE",
            description = "A JMH @Param of the engine's side, e.g. io=uring for the TCP pairs' I/O backend; repeatable.")
    Map<String, String> engineParams = new java.util.LinkedHashMap<>();

    @Option(names = "--json", description = "Also write every round to this JSON file.")
    Path json;

    private final PrintStream out;

    /** The names of {@link BaselinePair}'s pairs, for the help text. */
    static final class PairNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return List.of(BaselinePair.names()).iterator();
        }
    }

    PairedRuns(PrintStream out) {
        this.out = out;
    }

    /** One round: the two forks' throughput (GB/s) and whether the engine ran first. */
    public record Round(double engineGbps, double baselineGbps, boolean engineFirst) {
        public double ratio() {
            return engineGbps / baselineGbps;
        }
    }

    /** Every round at one size, and the median, lowest and highest ratio. */
    public record SizeResult(String pair, long sizeBytes, double target, List<Round> rounds, double medianRatio,
                             double minRatio, double maxRatio) {
        static SizeResult of(BaselinePair pair, long sizeBytes, List<Round> rounds) {
            double[] ratios = rounds.stream().mapToDouble(Round::ratio).sorted().toArray();
            int n = ratios.length;
            double median = n % 2 == 1 ? ratios[n / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2;
            return new SizeResult(pair.name(), sizeBytes, pair.target(), List.copyOf(rounds), median, ratios[0],
                    ratios[n - 1]);
        }
    }

    /** The command line printing to {@code out}: a failure is one line on standard error and exit code {@link ExitCodes#BAD_INPUT}. */
    static CommandLine commandLine(PrintStream out) {
        CommandLine cli = new CommandLine(new PairedRuns(out));
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("ferry jmh-pairs: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return ExitCodes.BAD_INPUT;
        });
        return cli;
    }

    public static void main(String[] args) {
        System.exit(commandLine(System.out).execute(args));
    }

    @Override
    public Integer call() throws RunnerException {
        if (rounds < 1 || iterations < 1 || warmup < 0 || forks < 0) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--rounds and --iterations must be at least 1, --warmup and --forks at least 0");
        }
        BaselinePair p = BaselinePair.named(pair);
        TimeValue iterationTime = TimeValue.fromString(time);
        List<SizeResult> results = new ArrayList<>();
        for (String size : sizes) {
            long bytes = ByteSizes.parse(size);
            List<Round> done = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                boolean engineFirst = r % 2 == 0;
                double first = gbps(p, bytes, engineFirst, iterationTime);
                double second = gbps(p, bytes, !engineFirst, iterationTime);
                Round round = engineFirst ? new Round(first, second, true) : new Round(second, first, false);
                done.add(round);
                out.printf("%s %s round %d/%d: engine %.2f GB/s, baseline %.2f GB/s, ratio %.3f%n", p.name(), size,
                        r + 1, rounds, round.engineGbps(), round.baselineGbps(), round.ratio());
            }
            results.add(SizeResult.of(p, bytes, done));
        }
        print(results);
        if (json != null) {
            write(json, results);
            out.println("wrote " + json);
        }
        return ExitCodes.OK;
    }

    /** Throughput of one fork of one side, GB/s (10^9 bytes per second). */
    private double gbps(BaselinePair p, long sizeBytes, boolean engine, TimeValue iterationTime) throws RunnerException {
        ChainedOptionsBuilder options = new OptionsBuilder().include(engine ? p.engine() : p.baseline())
                .param(p.sizeParam(), Long.toString(sizeBytes))
                .forks(forks).warmupIterations(warmup).warmupTime(TimeValue.seconds(1))
                .measurementIterations(iterations).measurementTime(iterationTime)
                .verbosity(VerboseMode.SILENT).shouldFailOnError(true);
        for (Map.Entry<String, String> e : (engine ? p.engineParams() : p.baselineParams()).entrySet()) {
            options.param(e.getKey(), e.getValue());
        }
        if (engine) {
            engineParams.forEach(options::param);
        }
        List<RunResult> runs = new ArrayList<>(new Runner(options.build()).run());
        if (runs.size() != 1) {
            throw new IllegalStateException("expected one JMH result for " + (engine ? p.engine() : p.baseline())
                    + ", got " + runs.size());
        }
        double opsPerSecond = runs.getFirst().getPrimaryResult().getScore();
        return opsPerSecond * p.bytesPerOp(sizeBytes) / 1e9;
    }

    private void print(List<SizeResult> results) {
        out.println();
        out.printf("%-10s %10s %8s %8s %8s %8s  %s%n", "pair", "size", "median", "min", "max", "target", "rounds at or above target");
        for (SizeResult r : results) {
            long above = r.rounds().stream().filter(x -> x.ratio() >= r.target()).count();
            out.printf("%-10s %10d %8.3f %8.3f %8.3f %8.2f  %d of %d%n", r.pair(), r.sizeBytes(), r.medianRatio(),
                    r.minRatio(), r.maxRatio(), r.target(), above, r.rounds().size());
        }
    }

    static void write(Path file, List<SizeResult> results) {
        try {
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), results);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
