package dev.ferry.store.cli;

import dev.ferry.transfer.TransferWarmUp;
import picocli.CommandLine.Option;

/**
 * A node's warm-up pass at start (a picocli mixin of the store, prefill and decode nodes):
 * {@code --warm-up-ms} of WRITE and READ batches between two throwaway engines over loopback
 * ({@link TransferWarmUp}), so that the node's first transfers run compiled code. Not
 * thread-safe; read once at start.
 */
public final class WarmUpOption {
    /** Default length of the pass, ms: what lets {@code ferry bench transfer} move bytes in its first second. */
    public static final long DEFAULT_MILLIS = 1000;

    @Option(names = "--warm-up-ms", paramLabel = "MS", defaultValue = "" + DEFAULT_MILLIS, description = "Before "
            + "serving, move bytes over loopback between two throwaway engines for this long, so that the first "
            + "transfers run compiled code; 0 for none (default ${DEFAULT-VALUE}).")
    long millis;

    /**
     * Runs the pass.
     *
     * @return for the ready line: {@code warm_up_ms=MS warm_up_requests=N}
     * @throws IllegalArgumentException when {@code --warm-up-ms} is negative
     * @throws IllegalStateException when loopback cannot be bound or a warm-up request fails
     */
    public String run() {
        long started = System.nanoTime();
        long requests = TransferWarmUp.run(millis);
        return "warm_up_ms=" + (System.nanoTime() - started) / 1_000_000 + " warm_up_requests=" + requests;
    }
}
