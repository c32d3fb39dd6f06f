package dev.ferry.transfer.transport;

import java.util.concurrent.atomic.LongAdder;

/**
 * Measurements of one link, all taken at the initiator from its completions (WRITE acks and
 * READ answers alike, so both directions count): an exponentially weighted moving average
 * (EWMA) of its bandwidth (kept as time per byte), an EWMA of its latency, and counters of
 * bytes, slices and failures. With the link's bytes in flight ({@link Link#inFlightBytes()})
 * they predict when a new slice would finish: {@code latency + (inFlight + slice) / bandwidth}
 * ({@link #predictFinishNanos}).
 *
 * <p>The link is modelled as a FIFO server of rate B behind a delay L: a slice sent at
 * {@code s} leaves the sender once the slices before it have, takes {@code len / B} to
 * transmit and completes L later. Each completion is one of two samples:
 * <ul>
 *   <li>queued: the previous completion came more than L after this slice was sent, so this
 *       slice waited for the one before it and the gap between the two completions is its
 *       transmission alone: a bandwidth sample, {@code (now - previous completion) / len} per byte;
 *   <li>idle: the link had nothing ahead of it, so its round trip is {@code L + len / B}: a
 *       latency sample, {@code elapsed - len / B} (at least 0). Where the round trip is
 *       shorter than the current bandwidth predicts, the bandwidth was underestimated and the
 *       round trip is a bandwidth sample instead ({@code elapsed / len} per byte).
 * </ul>
 * A link kept busy thus measures its rate (its latency hides behind the slices in flight, as
 * the prediction assumes); one used for small slices at a time measures its round trip. The
 * first completion gives the bandwidth {@code len / elapsed} and a latency of 0. Estimates
 * come only from measurements: until the first completion, {@link #bytesPerNano()} and
 * {@link #latencyNanos()} are {@link Double#NaN}.
 *
 * <p>After TENT's per-link model (kvcache-ai/Mooncake, docs/source/design/tent): the predicted
 * completion of a slice is the link's queueing plus transmission plus base latency.
 *
 * <p>Thread-safety: {@link #onCompleted} is called by one thread per link at a time (its I/O
 * thread); reads from other threads see a recent value (volatile). Allocation-free.
 */
public final class LinkEstimator {
    /** Weight of a new sample in each EWMA. */
    public static final double ALPHA = 0.2;

    /** EWMA of the transmission time per byte: averaged in time, not in rate (see {@link #onCompleted}). */
    private volatile double nanosPerByte = Double.NaN;
    private volatile double latencyNanos = Double.NaN;
    private long lastCompletionNanos = Long.MIN_VALUE;
    private final LongAdder bytes = new LongAdder();
    private final LongAdder slices = new LongAdder();
    private final LongAdder failures = new LongAdder();

    /**
     * Records a slice of {@code length} bytes sent at {@code sentNanos} and completed at
     * {@code nowNanos} (both on the {@link System#nanoTime()} clock, or one clock of a test).
     */
    public void onCompleted(int length, long sentNanos, long nowNanos) {
        long previous = lastCompletionNanos;
        lastCompletionNanos = Math.max(previous, nowNanos);
        bytes.add(length);
        slices.increment();
        double perByte = nanosPerByte;
        double latency = latencyNanos;
        long elapsed = Math.max(1, nowNanos - sentNanos);
        if (Double.isNaN(perByte)) {
            nanosPerByte = elapsed / (double) length;
            latencyNanos = 0;
            return;
        }
        if (previous != Long.MIN_VALUE && previous - sentNanos > latency) {
            // Time per byte, not bytes per time: answers read in one batch come a few microseconds
            // apart after a long gap, and an average of rates would count that burst as a huge
            // rate; averaged in time the gap and the burst sum to the true pace.
            nanosPerByte = ewma(perByte, Math.max(0, nowNanos - previous) / (double) length);
            return;
        }
        double transmit = length * perByte;
        if (transmit >= elapsed) {
            nanosPerByte = ewma(perByte, elapsed / (double) length);
            latencyNanos = ewma(latency, 0);
        } else {
            latencyNanos = ewma(latency, elapsed - transmit);
        }
    }

    private static double ewma(double current, double sample) {
        return current + ALPHA * (sample - current);
    }

    /** Counts a failed slice. */
    public void onFailed() {
        failures.increment();
    }

    /**
     * Bandwidth in bytes per nanosecond (= GB/s), the inverse of the EWMA of transmission time
     * per byte; NaN before the first sample, infinite while answers come faster than measurable.
     */
    public double bytesPerNano() {
        return 1 / nanosPerByte;
    }

    /** EWMA latency in nanoseconds (round trip less transmission), or NaN before the first sample. */
    public double latencyNanos() {
        return latencyNanos;
    }

    /**
     * When a slice sent now would complete, nanoseconds from now:
     * {@code latency + (inFlightBytes + sliceBytes) / bandwidth}. Where this link has no
     * measurement yet, {@code priorBytesPerNano} stands for its bandwidth and its latency is 0.
     *
     * @param inFlightBytes     bytes sent on the link and not answered yet
     * @param sliceBytes        size of the slice, bytes
     * @param priorBytesPerNano bandwidth to assume before the first measurement, bytes/ns (> 0)
     */
    public double predictFinishNanos(long inFlightBytes, int sliceBytes, double priorBytesPerNano) {
        double perByte = nanosPerByte;
        double latency = latencyNanos;
        return (Double.isNaN(latency) ? 0 : latency)
                + (inFlightBytes + sliceBytes) * (Double.isNaN(perByte) ? 1 / priorBytesPerNano : perByte);
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
