package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.slice.Opcode;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.SliceOwner;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;

/**
 * A probe of a quarantined {@link AeronLink}: a READ of one byte at offset 0 of the segment
 * the link last carried a slice for, sent through the link's publication by the sender and
 * answered through the peer's serving core, so that it proves what a connected publication
 * alone does not: that the peer's receiver takes requests and answers them. Any answer
 * readmits the link (a refusal is an answer too); no answer within the stall timeout leaves
 * it quarantined, and the next probe waits longer (exponential backoff).
 *
 * <p>Probes never reach the engine's listener and never feed the link's estimator. Thread-safe.
 */
final class AeronProbe implements SliceOwner {
    final AeronLink link;
    final Slice slice;
    final CompletableFuture<Boolean> outcome = new CompletableFuture<>();

    AeronProbe(AeronLink link, long id, String segment) {
        this.link = link;
        this.slice = new Slice(id, Opcode.READ, MemorySegment.ofArray(new byte[1]), 0, segment, 0, 1,
                0 /* the highest priority */, this);
    }

    @Override
    public boolean isDone() {
        return outcome.isDone();
    }

    /** The peer answered: the link is readmitted. */
    void answered() {
        if (outcome.complete(true)) {
            link.readmit();
        }
    }

    /** No answer in time, or the probe could not be sent: the link stays quarantined. */
    void failed(long nowNanos) {
        if (outcome.complete(false)) {
            link.probeFailed(nowNanos);
        }
    }
}
