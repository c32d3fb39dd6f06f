package dev.ferry.cluster.cli;

import dev.ferry.store.node.MasterMain;
import dev.ferry.store.node.StoreNodeMain;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * The {@code ferry} command line: {@code ferry cluster}, {@code ferry sidecar}, {@code ferry master},
 * {@code ferry store-node}, {@code ferry aeron-driver}, {@code ferry bench}, {@code ferry trace}, {@code ferry profiles}.
 */
@Command(name = "ferry", mixinStandardHelpOptions = true, version = "ferry 0.1.0",
        description = "Ferry: a disaggregated KV-cache store and transfer engine for LLM inference.",
        subcommands = {ClusterCommand.class, SidecarCommand.class, BenchCommand.class, TraceCommand.class,
            ProfilesCommand.class, AeronDriverCommand.class})
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
        cli.addSubcommand("master", new MasterMain());
        cli.addSubcommand("store-node", new StoreNodeMain());
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
