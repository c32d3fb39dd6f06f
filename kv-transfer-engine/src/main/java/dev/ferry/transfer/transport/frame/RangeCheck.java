package dev.ferry.transfer.transport.frame;

import dev.ferry.transfer.segment.LocalSegments;
import java.lang.foreign.MemorySegment;

/**
 * The serving side's check of a request's target range, shared by the network transports:
 * the named segment must exist here and hold {@code [offset, offset + length)}.
 * Stateless; thread-safe.
 */
public final class RangeCheck {
    private RangeCheck() {
    }

    /**
     * Why a request is refused.
     *
     * @param status  the answer's status
     * @param message the answer's text
     */
    public record Refusal(SliceFrame.Status status, String message) {
    }

    /** Why the request cannot be served, or null when {@code segments.find(name)} holds the range. */
    public static Refusal refusal(LocalSegments segments, String name, long offset, int length) {
        MemorySegment segment = segments.find(name);
        if (segment == null) {
            return new Refusal(SliceFrame.Status.UNKNOWN_SEGMENT, "unknown segment '" + name + "'");
        }
        if (offset < 0 || length < 1 || offset > segment.byteSize() - length) {
            return new Refusal(SliceFrame.Status.OUT_OF_BOUNDS, "range [" + offset + ", " + (offset + length)
                    + ") outside segment '" + name + "' of " + segment.byteSize() + " bytes");
        }
        return null;
    }
}
