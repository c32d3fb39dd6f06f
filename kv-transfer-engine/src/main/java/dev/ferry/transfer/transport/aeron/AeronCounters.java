package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.transport.serve.ServingCounters;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of one {@link AeronTransport}: what its serving core did ({@link #serving()}), and
 * what went wrong in its duty cycles, where a log line per event would flood the log.
 * Thread-safe; reads are sums taken at the time of the call.
 */
public final class AeronCounters {
    private final ServingCounters serving;
    final LongAdder stalledSlices = new LongAdder();
    final LongAdder linksMarkedDown = new LongAdder();
    final LongAdder sendsBackPressured = new LongAdder();
    final LongAdder sendsFailed = new LongAdder();
    final LongAdder answersBackPressured = new LongAdder();
    final LongAdder answersDropped = new LongAdder();
    final LongAdder malformedMessages = new LongAdder();
    final LongAdder lateAnswers = new LongAdder();
    final LongAdder probesSent = new LongAdder();
    final LongAdder probesUnanswered = new LongAdder();
    final LongAdder readmissions = new LongAdder();
    final LongAdder fencesServed = new LongAdder();
    final LongAdder fencedMessages = new LongAdder();
    final LongAdder fencesOfPeersGone = new LongAdder();
    final LongAdder sessionsRenewed = new LongAdder();
    private final AeronErrors errors;

    AeronCounters(ServingCounters serving, AeronErrors errors) {
        this.serving = serving;
        this.errors = errors;
    }

    /** Bytes written, read, refused and CRC-failed requests of the serving side. */
    public ServingCounters serving() {
        return serving;
    }

    /** Slices that got no answer within the stall timeout (each failed as retryable, its link marked down). */
    public long stalledSlices() {
        return stalledSlices.sum();
    }

    /** Times a link was marked down: a stalled slice, or an offer that failed or stayed back-pressured too long. */
    public long linksMarkedDown() {
        return linksMarkedDown.sum();
    }

    /** Slice offers that met back pressure at first (each retried on the sender's next duty cycle). */
    public long sendsBackPressured() {
        return sendsBackPressured.sum();
    }

    /** Slices whose offer failed (publication closed, or back-pressured past the stall timeout). */
    public long sendsFailed() {
        return sendsFailed.sum();
    }

    /** Answers whose first offer met back pressure (queued, retried without holding up receipt). */
    public long answersBackPressured() {
        return answersBackPressured.sum();
    }

    /** Answers dropped: not taken within the stall timeout, or the answer queue was full; the initiator resends. */
    public long answersDropped() {
        return answersDropped.sum();
    }

    /** Messages dropped because their head was malformed or cut short. */
    public long malformedMessages() {
        return malformedMessages.sum();
    }

    /** Answers that came after their slice had failed here (stalled) and were ignored. */
    public long lateAnswers() {
        return lateAnswers.sum();
    }

    /** Probes sent on quarantined links. */
    public long probesSent() {
        return probesSent.sum();
    }

    /** Probes that got no answer in time (or could not be sent): their link stayed quarantined. */
    public long probesUnanswered() {
        return probesUnanswered.sum();
    }

    /** Quarantined links readmitted after their peer answered a probe. */
    public long readmissions() {
        return readmissions.sum();
    }

    /** Initiators' Aeron sessions fenced here (FENCE_SESSION, over Aeron or TCP): their requests are dropped since. */
    public long fencesServed() {
        return fencesServed.sum();
    }

    /** Requests dropped here, whole or in progress, because their session was fenced. */
    public long fencedMessages() {
        return fencedMessages.sum();
    }

    /** Lost sessions taken as fenced without an answer, their peer being gone (every path refused or silent). */
    public long fencesOfPeersGone() {
        return fencesOfPeersGone.sum();
    }

    /** Times a link's publication was replaced by a new one (a new session) after one of its slices stalled. */
    public long sessionsRenewed() {
        return sessionsRenewed.sum();
    }

    /** Exceptions thrown in the duty cycles, counted by the error handler (the cycle goes on). */
    public long errors() {
        return errors.count();
    }

    /** Distinct exceptions (type and throwing frame) seen in the duty cycles. */
    public int distinctErrors() {
        return errors.distinct();
    }
}
