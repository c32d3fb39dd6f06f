package dev.ferry.store.cli;

import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Where a store node's DRAM slab lives and how it is kept (a picocli mixin of the store node
 * and the sidecar): {@code --slab-dir} ({@code --shm-dir}), {@code --data-dir}, {@code --lazy-slab} and the
 * background scrub's {@code --scrub-rate RATE} (bytes per second with units;
 * {@code --scrub-bytes-per-second} is its deprecated alias). Not thread-safe; read once at start.
 */
public final class SlabOptions {
    /** The scrub's default rate, bytes per second: 64 MiB/s. */
    public static final long DEFAULT_SCRUB_RATE = 64L << 20;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = {"--slab-dir", "--shm-dir"}, paramLabel = "DIR", defaultValue = "${env:FERRY_SLAB_DIR:-/dev/shm}",
            description = "Where a slab file without --data-dir lives: a tmpfs; one mounted with huge=always (or "
            + "huge=advise) gives the slab 2 MiB pages. Default: $FERRY_SLAB_DIR, else /dev/shm.")
    Path shmDir;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Keep the slab (dram.slab) and the block index "
            + "(index.cmap) here, across restarts (after SIGKILL too); put it on /dev/shm for DRAM speed, and give "
            + "a fixed --node-id with it. Without it the node starts empty every time.")
    Path dataDir;

    @Option(names = "--lazy-slab", defaultValue = "${env:FERRY_LAZY_SLAB:-false}", fallbackValue = "true",
            description = "Do not populate the DRAM slab at start: each page is faulted in by its first write (a "
            + "faster start, slower first writes). Default: $FERRY_LAZY_SLAB, else false.")
    boolean lazySlab;

    private long scrubRate = DEFAULT_SCRUB_RATE;

    @Option(names = "--scrub-rate", paramLabel = "RATE", converter = SizeConverter.Rate.class,
            description = "Most bytes per second the background scrub re-checks against their CRC32C, e.g. 64MiB; "
            + "0 turns it off (default 64MiB).")
    void scrubRate(long value) {
        scrubRate = value;
    }

    @Option(names = "--scrub-bytes-per-second", paramLabel = "RATE", converter = SizeConverter.Rate.class,
            hidden = true, description = "Deprecated alias of --scrub-rate.")
    void scrubBytesPerSecond(long value) {
        Deprecation.warn(command, "--scrub-bytes-per-second", "--scrub-rate RATE");
        scrubRate = value;
    }

    /** @return the directory of a slab file without --data-dir */
    public Path shmDir() {
        return shmDir;
    }

    /** @return the directory that keeps the slab and index across restarts, or null */
    public Path dataDir() {
        return dataDir;
    }

    /** @return whether pages are faulted in by their first write instead of at start */
    public boolean lazySlab() {
        return lazySlab;
    }

    /** @return the scrub's rate, bytes per second; 0: off */
    public long scrubRate() {
        return scrubRate;
    }
}
