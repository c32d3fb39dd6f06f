package dev.ferry.store.cli;

import picocli.CommandLine;

/**
 * Runs a node's picocli command so that a bad argument or a failure to start prints one
 * clear line (and the usage for bad arguments) and exits non-zero, not a bare stack trace.
 */
public final class NodeCommandLine {
    private NodeCommandLine() {
    }

    /** @return the exit code: 0 ok, 2 bad arguments, 1 failed to start */
    public static int run(Object command, String... args) {
        CommandLine cli = new CommandLine(command);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("ferry: " + cmd.getCommandName() + ": " + e.getMessage());
            return 1;
        });
        return cli.execute(args);
    }
}
