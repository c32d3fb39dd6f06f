package dev.ferry.cluster.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ferry bench}: benchmarks people run by hand. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks: transfer throughput and latency, trace replay by capacity and policy.",
        subcommands = {BenchTransferCommand.class, BenchTargetCommand.class, BenchReplayCommand.class,
            BenchChartCommand.class, BenchFailoverCommand.class, BenchTakeoverCommand.class, BenchCopyCrcCommand.class})
final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
