package dev.ferry.transfer.transport.serve;

import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.segment.SegmentHandle;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.SliceFrame;

/**
 * The request that one stream (a TCP connection, an Aeron image) is serving, from its head to
 * its answer, and the handle of the segment that stream named last: a run of requests to one
 * segment resolves its name once. Reused from one request to the next.
 *
 * <p>One per stream; used by that stream's thread only; not thread-safe.
 */
public final class ServedRequest {
    byte type;
    long sliceId;
    long offset;
    int length;
    boolean trailer;
    SegmentHandle handle;
    SliceFrame.Status refused;
    String refusal;
    String notifySegment;
    byte[] notification;
    private byte[] lastName;
    private SegmentHandle lastHandle;
    private String lastNameString;

    /** The request's type ({@link SliceFrame#WRITE}, {@link SliceFrame#READ}, {@link SliceFrame#NOTIFY}). */
    public byte type() {
        return type;
    }

    /** The slice id the initiator chose, echoed in the answer. */
    public long sliceId() {
        return sliceId;
    }

    /** Offset into the target segment, bytes. */
    public long offset() {
        return offset;
    }

    /** Whether the request was refused at its head (its body, if any, is dropped). */
    public boolean refused() {
        return refused != null;
    }

    /** The segment the header names, resolved through the last one when it names the same; null when unknown. */
    SegmentHandle resolve(LocalSegments segments, FrameHeader header) {
        if (lastName != null && header.nameEquals(lastName) && (lastHandle == null || lastHandle.registered())) {
            if (lastHandle == null) {
                lastHandle = segments.handle(lastNameString); // it may have been registered since
            }
            return lastHandle;
        }
        lastNameString = header.name();
        lastName = header.nameBytes();
        lastHandle = segments.handle(lastNameString);
        return lastHandle;
    }

    /** The name of the segment last resolved, for error texts. */
    String lastName() {
        return lastNameString;
    }
}
