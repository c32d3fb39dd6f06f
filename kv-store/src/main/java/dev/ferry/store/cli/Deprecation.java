package dev.ferry.store.cli;

import picocli.CommandLine.Model.CommandSpec;

/**
 * The one way a command says that a flag it still accepts has a new name: one line on the
 * command's error stream, {@code ferry store-node: --capacity-bytes is deprecated: use --capacity}.
 * The old flag is a hidden option (so {@code --help} shows only the new name) whose setter
 * calls {@link #warn}.
 */
public final class Deprecation {
    private Deprecation() {
    }

    /**
     * Prints the deprecation line on {@code command}'s error stream.
     *
     * @param command     the command that parsed the old flag (a mixin's {@code @Spec(MIXEE)})
     * @param oldName     the deprecated flag, e.g. {@code --capacity-bytes}
     * @param replacement the flag to use instead, with how it is written, e.g. {@code --capacity SIZE}
     */
    public static void warn(CommandSpec command, String oldName, String replacement) {
        String name = command == null ? "ferry" : command.qualifiedName();
        java.io.PrintWriter err = command == null || command.commandLine() == null
                ? new java.io.PrintWriter(System.err, true) : command.commandLine().getErr();
        err.println(name + ": " + oldName + " is deprecated: use " + replacement);
        err.flush();
    }
}
