package dev.ferry.cluster.cli;

import dev.ferry.store.server.MasterMain;
import dev.ferry.store.server.SidecarMain;
import dev.ferry.store.server.StoreNodeMain;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ferry} command line: {@code ferry cluster}, {@code ferry sidecar}, {@code ferry master},
 * {@code ferry store-node}, {@code ferry aeron-driver}, {@code ferry bench}, {@code ferry trace}, {@code ferry profiles},
 * {@code ferry ca}.
 * The long-running store processes (master, store node, sidecar) and their options live in
 * {@code dev.ferry.store.server}; this command only gathers them.
 */
@Command(name = "ferry", mixinStandardHelpOptions = true, version = "ferry 0.1.0",
        description = "Ferry: a disaggregated KV-cache store and transfer engine for LLM inference.",
        subcommands = {ClusterCommand.class, SidecarMain.class, MasterMain.class, StoreNodeMain.class,
            BenchCommand.class, TraceCommand.class, ProfilesCommand.class, AeronDriverCommand.class, CaCommand.class})
public final class FerryCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The command line, with failures printed as one clear line and exit code {@link ExitCodes#BAD_INPUT}. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new FerryCommand());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("ferry: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return ExitCodes.BAD_INPUT;
        });
        return cli;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
