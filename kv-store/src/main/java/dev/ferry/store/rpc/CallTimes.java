package dev.ferry.store.rpc;

import java.util.concurrent.atomic.LongAdder;

/**
 * Calls per RPC method and their summed wall time as the caller saw them (request written,
 * answer decoded, retries included), for metrics: where a caller's time goes to its server.
 * Recording does not allocate.
 *
 * <p>Thread-safe.
 */
public final class CallTimes {
    /** Method numbers are below this; calls of higher ones are counted under {@code METHODS - 1}. */
    public static final int METHODS = 64;
    private final LongAdder[] calls = new LongAdder[METHODS];
    private final LongAdder[] nanos = new LongAdder[METHODS];

    public CallTimes() {
        for (int m = 0; m < METHODS; m++) {
            calls[m] = new LongAdder();
            nanos[m] = new LongAdder();
        }
    }

    /** One call of {@code method} that took {@code elapsedNanos}. */
    public void record(int method, long elapsedNanos) {
        int m = slot(method);
        calls[m].increment();
        nanos[m].add(elapsedNanos);
    }

    /** Calls of {@code method} recorded so far. */
    public long calls(int method) {
        return calls[slot(method)].sum();
    }

    /** Their summed wall time, ns. */
    public long nanos(int method) {
        return nanos[slot(method)].sum();
    }

    private static int slot(int method) {
        return method >= 0 && method < METHODS ? method : METHODS - 1;
    }
}
