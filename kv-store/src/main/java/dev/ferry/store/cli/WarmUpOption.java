package dev.ferry.store.cli;

import dev.ferry.transfer.TransferWarmUp;
import picocli.CommandLine.Option;

/**
 * A node's warm-up pass at start (a picocli mixin of the store, prefill and decode nodes):
 * WRITE and READ batches between throwaway engines over loopback ({@link TransferWarmUp})
 * until the JIT compilers go quiet, for at most {@code --warm-up-ms}, so that the node's first
 * transfers run compiled code at their steady rate. Not thread-safe; read once at start.
 */
public final class WarmUpOption {
    /**
     * Default budget of the pass, ms. The pass usually ends earlier, once compiled: on two
     * cores shared with other builds it took 4.4 to 6 s (3.4 to 4.2 with the ahead-of-time
     * cache; docs/benchmarks.md, "The first second: warm-up"), so a busier machine spends the
     * budget and starts with part of the code not yet compiled.
     */
    public static final long DEFAULT_MILLIS = 8000;
    /**
     * The system property that replaces {@link #DEFAULT_MILLIS} as the default, in ms: the test
     * suite sets it (1000), so that the many nodes its tests start, all at once on few cores,
     * do not each spend the whole budget; a local cluster's processes inherit it.
     */
    public static final String DEFAULT_PROPERTY = "ferry.warmUpMillis";
    /** {@code --warm-up-ms}'s default for picocli: {@link #DEFAULT_PROPERTY}, else {@link #DEFAULT_MILLIS}. */
    public static final String DEFAULT_VALUE = "${sys:" + DEFAULT_PROPERTY + ":-" + DEFAULT_MILLIS + "}";

    @Option(names = "--warm-up-ms", paramLabel = "MS", defaultValue = DEFAULT_VALUE, description = "Before "
            + "serving, move bytes over loopback between throwaway engines until the JIT compilers go quiet, for at "
            + "most this long, so that the first transfers run compiled code; 0 for none (default ${DEFAULT-VALUE}).")
    long millis;

    /**
     * Runs the pass.
     *
     * @return for the ready line: {@code warm_up_ms=MS warm_up_requests=N warm_up_settled=true|false}
     *         (settled: it ended because the compilers went quiet, not because the budget ran out)
     * @throws IllegalArgumentException when {@code --warm-up-ms} is negative
     * @throws IllegalStateException when loopback cannot be bound or a warm-up request fails
     */
    public String run() {
        long started = System.nanoTime();
        TransferWarmUp.Result result = TransferWarmUp.run(millis);
        return "warm_up_ms=" + (System.nanoTime() - started) / 1_000_000 + " warm_up_requests=" + result.requests()
                + " warm_up_settled=" + result.settled();
    }
}
