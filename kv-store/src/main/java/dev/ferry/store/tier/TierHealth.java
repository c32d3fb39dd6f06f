package dev.ferry.store.tier;

import java.nio.file.Path;
import java.util.function.LongSupplier;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link SsdHealth} of one SSD tier: classifies failed writes, logs each change of state
 * once (never per block), and paces the retries that find out whether the disk takes writes
 * again. Thread-safe.
 */
final class TierHealth {
    private static final Logger LOG = LoggerFactory.getLogger(TierHealth.class);

    private final Path directory;
    private final long retryNanos;
    private final LongSupplier clock;
    private volatile SsdHealth state = SsdHealth.OK;
    private volatile String reason = "";
    private long since;
    private long lastRetry;

    /**
     * @param retryNanos least time between two retries of a tier that refuses writes, ns
     * @param clock      nanosecond clock
     */
    TierHealth(Path directory, long retryNanos, LongSupplier clock) {
        this.directory = directory;
        this.retryNanos = retryNanos;
        this.clock = clock;
    }

    SsdHealth state() {
        return state;
    }

    /**
     * What a write that failed with {@code e} says of the disk: {@link SsdHealth#FULL} for
     * {@code ENOSPC} (RocksDB's {@code NoSpace}), {@link SsdHealth#FAILING} for another I/O
     * error or corruption found while writing, {@link SsdHealth#OK} for anything else (the
     * write failed, the disk is fine).
     */
    static SsdHealth classify(RocksDBException e) {
        Status s = e.getStatus();
        String message = String.valueOf(e.getMessage());
        if (s != null && s.getSubCode() == Status.SubCode.NoSpace || message.contains("No space left on device")) {
            return SsdHealth.FULL;
        }
        if (s != null && (s.getCode() == Status.Code.IOError || s.getCode() == Status.Code.Corruption)
                || message.startsWith("IO error")) {
            return SsdHealth.FAILING;
        }
        return SsdHealth.OK;
    }

    /**
     * Records a failed write.
     *
     * @return the state it put the tier in (unchanged when it was no disk fault)
     */
    SsdHealth failed(RocksDBException e) {
        SsdHealth h = classify(e);
        if (h != SsdHealth.OK) {
            change(h, e.getMessage());
        }
        return state;
    }

    /** The tier took a write again. */
    void recovered() {
        change(SsdHealth.OK, "");
    }

    private synchronized void change(SsdHealth to, String why) {
        long now = clock.getAsLong();
        SsdHealth from = state;
        if (from == to) {
            return;
        }
        reason = why;
        state = to;
        if (to == SsdHealth.OK) {
            LOG.info("SSD tier {}: takes writes again after {} ms {}", directory, (now - since) / 1_000_000,
                    from == SsdHealth.FULL ? "full" : "failing");
        } else {
            since = now;
            lastRetry = now;
            LOG.warn("SSD tier {}: {}; writes to it are refused (blocks stay in DRAM or are evicted) and retried"
                    + " every {} ms", directory, describe(to, why), retryNanos / 1_000_000);
        }
    }

    /** Whether a retry is due now (at most one per {@code retryNanos}); counts it as made. */
    synchronized boolean retryDue() {
        long now = clock.getAsLong();
        if (state == SsdHealth.OK || now - lastRetry < retryNanos) {
            return false;
        }
        lastRetry = now;
        return true;
    }

    /** The refusal of a write while the tier is not {@link SsdHealth#OK}. */
    SsdUnwritableException refusal(String what) {
        SsdHealth h = state;
        return new SsdUnwritableException(h, what + " refused: " + describe(h, reason));
    }

    private static String describe(SsdHealth h, String why) {
        return (h == SsdHealth.FULL ? "SSD full" : "SSD failing") + " (" + why + ")";
    }
}
