package dev.ferry.transfer.transport;

import dev.ferry.transfer.slice.LinkId;
import dev.ferry.transfer.slice.Slice;

/**
 * One path to one peer (a TCP connection, an Aeron channel, a shared-memory mapping).
 * A link sends slices and reports each outcome to the {@link SliceListener} it was built
 * with, exactly once per send.
 *
 * <p>Implementations are thread-safe: {@link #send} may be called from any thread.
 */
public interface Link extends LinkId {
    /** A short stable name for metrics and logs, e.g. {@code tcp:127.0.0.1:7001#0}. */
    @Override
    String name();

    /** Whether the link may take slices now (connected and not quarantined). */
    boolean isUp();

    /** Where the link stands: up, quarantined, or being probed. */
    default LinkState state() {
        return isUp() ? LinkState.UP : LinkState.QUARANTINED;
    }

    /**
     * Why the latest attempt to bring this link up failed (e.g. a refused TLS handshake), for
     * error messages; null when it is up or no reason is known.
     */
    default String downReason() {
        return null;
    }

    /** Bytes sent on this link whose outcome is not known yet. */
    long inFlightBytes();

    /** What the link has measured so far. */
    LinkEstimator estimator();

    /**
     * Sends one slice. The outcome arrives later through the listener, possibly on another
     * thread; a link that is down reports a retryable failure rather than throwing.
     */
    void send(Slice slice);
}
