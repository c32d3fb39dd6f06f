package dev.ferry.store.cli;

import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The SSD tier of a store node or sidecar (a picocli mixin): {@code --ssd-dir DIR} and
 * {@code --ssd-capacity SIZE} (bytes with units; {@code --ssd-capacity-bytes} is its
 * deprecated alias). Not thread-safe; read once at start.
 */
public final class SsdOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--ssd-dir", paramLabel = "DIR", description = "Directory of the SSD tier (RocksDB with BlobDB); "
            + "without it the node has DRAM only. Cold blocks are demoted to it when DRAM is over 85%% full and "
            + "promoted back on a hit.")
    Path dir;

    private long bytes;

    @Option(names = "--ssd-capacity", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "SSD tier size, e.g. 64GiB (default: 8 x --capacity).")
    void ssdCapacity(long value) {
        bytes = value;
    }

    @Option(names = "--ssd-capacity-bytes", paramLabel = "SIZE", converter = SizeConverter.class, hidden = true,
            description = "Deprecated alias of --ssd-capacity.")
    void ssdCapacityBytes(long value) {
        Deprecation.warn(command, "--ssd-capacity-bytes", "--ssd-capacity SIZE");
        bytes = value;
    }

    /** @return the SSD tier's directory, or null for DRAM only */
    public Path dir() {
        return dir;
    }

    /** @return the SSD tier's size in bytes, or 0 when not given (the node then takes 8 x its DRAM) */
    public long bytes() {
        return bytes;
    }
}
