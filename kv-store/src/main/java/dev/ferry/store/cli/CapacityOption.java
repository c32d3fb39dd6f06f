package dev.ferry.store.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code --capacity SIZE}, the DRAM slab of a store node or sidecar, in bytes with units
 * ({@code 4GiB}; a number alone is bytes), as a picocli mixin so that the flag reads the same
 * in every command. {@code --capacity-bytes} is its deprecated alias. Not thread-safe; read
 * once at start.
 */
public final class CapacityOption {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    private long bytes;

    @Option(names = "--capacity", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "DRAM slab size, e.g. 4GiB; a number alone is bytes (store-node: required; sidecar: "
                    + "default 1GiB).")
    void capacity(long value) {
        bytes = value;
    }

    @Option(names = "--capacity-bytes", paramLabel = "SIZE", converter = SizeConverter.class, hidden = true,
            description = "Deprecated alias of --capacity.")
    void capacityBytes(long value) {
        Deprecation.warn(command, "--capacity-bytes", "--capacity SIZE");
        bytes = value;
    }

    /** @return whether the command line gave a capacity */
    public boolean given() {
        return bytes > 0;
    }

    /** @return the capacity in bytes, or {@code otherwise} when none was given */
    public long bytesOr(long otherwise) {
        return given() ? bytes : otherwise;
    }

    /**
     * @return the capacity in bytes
     * @throws picocli.CommandLine.ParameterException when none was given
     */
    public long required() {
        if (!given()) {
            throw new picocli.CommandLine.ParameterException(command.commandLine(),
                    "Missing required option: '--capacity=SIZE'");
        }
        return bytes;
    }
}
