package dev.ferry.transfer.transport.aeron;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.agrona.ErrorHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The error handler of the Aeron transport's agents: counts every exception a duty cycle
 * throws (the cycle then goes on) and keeps the distinct ones, by type and throwing frame,
 * as Aeron's {@code DistinctErrorLog} does; the first of each kind is logged once, so that a
 * fault that repeats on every cycle shows in the counters rather than floods the log.
 *
 * <p>Thread-safe.
 */
final class AeronErrors implements ErrorHandler {
    private static final Logger LOG = LoggerFactory.getLogger(AeronErrors.class);
    private final LongAdder count = new LongAdder();
    private final Map<String, LongAdder> distinct = new ConcurrentHashMap<>();
    private volatile Throwable last;

    @Override
    public void onError(Throwable error) {
        count.increment();
        last = error;
        StackTraceElement[] trace = error.getStackTrace();
        String key = error.getClass().getName() + (trace.length == 0 ? "" : " at " + trace[0]);
        boolean first = distinct.computeIfAbsent(key, k -> new LongAdder()).sum() == 0;
        distinct.get(key).increment();
        if (first) {
            LOG.warn("Aeron transport duty cycle failed (counted from now on): " + key,
                    error);
        }
    }

    /** Exceptions handled so far. */
    long count() {
        return count.sum();
    }

    /** Distinct kinds of exception handled so far. */
    int distinct() {
        return distinct.size();
    }

    /** The latest exception handled, or null. */
    Throwable last() {
        return last;
    }
}
