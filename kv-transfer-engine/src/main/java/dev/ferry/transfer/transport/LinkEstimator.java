package dev.ferry.transfer.transport;

import java.util.concurrent.atomic.LongAdder;

/**
 * Measurements of one link: an exponentially weighted moving average (EWMA) of its
 * service bandwidth, and counters of bytes, slices and failures.
 *
 * <p>The bandwidth sample of a completed slice is its bytes over the time the link spent
 * on it alone: from {@code max(sent, previous completion)} to now, which treats the link
 * as a FIFO server so that queueing behind earlier slices does not lower the estimate.
 * Estimates come only from measurements; until the first completion the link reports
 * {@link Double#NaN}.
 *
 * <p>Thread-safety: {@link #onCompleted} is called by one I/O thread per link; reads from
 * other threads see a recent value (volatile).
 */
public final class LinkEstimator {
    /** Weight of a new sample in the EWMA. */
    public static final double ALPHA = 0.2;

    private volatile double bytesPerNano = Double.NaN;
    private long lastCompletionNanos;
    private final LongAdder bytes = new LongAdder();
    private final LongAdder slices = new LongAdder();
    private final LongAdder failures = new LongAdder();

    /**
     * Records a slice of {@code length} bytes sent at {@code sentNanos} and completed at
     * {@code nowNanos} ({@link System#nanoTime()} clock).
     */
    public void onCompleted(int length, long sentNanos, long nowNanos) {
        long start = Math.max(sentNanos, lastCompletionNanos);
        lastCompletionNanos = nowNanos;
        double sample = length / (double) Math.max(1, nowNanos - start);
        double current = bytesPerNano;
        bytesPerNano = Double.isNaN(current) ? sample : current + ALPHA * (sample - current);
        bytes.add(length);
        slices.increment();
    }

    /** Counts a failed slice. */
    public void onFailed() {
        failures.increment();
    }

    /** EWMA bandwidth in bytes per nanosecond (= GB/s), or NaN before the first sample. */
    public double bytesPerNano() {
        return bytesPerNano;
    }

    /** Bytes completed on this link. */
    public long bytes() {
        return bytes.sum();
    }

    /** Slices completed on this link. */
    public long slices() {
        return slices.sum();
    }

    /** Slices that failed on this link. */
    public long failures() {
        return failures.sum();
    }
}
