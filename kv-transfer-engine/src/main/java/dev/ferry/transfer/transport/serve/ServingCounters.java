package dev.ferry.transfer.transport.serve;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of one transport's serving side, kept by {@link SliceServer}. Thread-safe; reads
 * are sums taken at the time of the call.
 */
public final class ServingCounters {
    private final LongAdder bytesWritten = new LongAdder();
    private final LongAdder bytesRead = new LongAdder();
    private final LongAdder crcMismatches = new LongAdder();
    private final LongAdder refusals = new LongAdder();
    private final LongAdder notifications = new LongAdder();

    void written(int bytes) {
        bytesWritten.add(bytes);
    }

    void read(int bytes) {
        bytesRead.add(bytes);
    }

    void crcMismatch() {
        crcMismatches.increment();
    }

    void refused() {
        refusals.increment();
    }

    void notified() {
        notifications.increment();
    }

    /** Bytes written into local segments by peers (acknowledged WRITEs). */
    public long bytesWritten() {
        return bytesWritten.sum();
    }

    /** Bytes read out of local segments by peers (READ answers sent). */
    public long bytesRead() {
        return bytesRead.sum();
    }

    /** WRITE payloads and notifications refused for a CRC32C mismatch. */
    public long crcMismatches() {
        return crcMismatches.sum();
    }

    /** Requests refused for an unknown segment, a range outside it, an over-long notification or a cut-short body. */
    public long refusals() {
        return refusals.sum();
    }

    /** Notifications handed to the listener. */
    public long notifications() {
        return notifications.sum();
    }
}
