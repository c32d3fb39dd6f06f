package dev.ferry.transfer.transport.serve;

import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.segment.SegmentHandle;
import dev.ferry.transfer.transport.NotificationListener;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.SliceFrame;
import java.lang.foreign.MemorySegment;

/**
 * Serves the requests of every network transport against this node's {@link LocalSegments}:
 * one-sided, the target's CPU only copies. The one place for the serving rules:
 * <ul>
 *   <li>a WRITE or READ must name a registered segment that holds
 *       {@code [offset, offset + length)}, else it is refused ({@code UNKNOWN_SEGMENT},
 *       {@code OUT_OF_BOUNDS}) and its payload dropped;</li>
 *   <li>a WRITE payload streams straight into the segment range it names (an uncommitted
 *       allocation) and is acknowledged only when its CRC32C matches ({@code CRC_MISMATCH}
 *       otherwise; the initiator resends it);</li>
 *   <li>a READ is answered from the segment where it lies;</li>
 *   <li>a notification of at most {@link SliceFrame#MAX_NOTIFICATION_BYTES} whose CRC32C
 *       matches is handed to the {@link NotificationListener} and acknowledged.</li>
 * </ul>
 * A transport calls {@link #begin} once a request's head is in (it learns where the body goes),
 * moves the body there while checksumming it, then calls {@link #finish} with the CRC32C as
 * received; the answer goes out through the transport's {@link Answers}. Segment names are
 * resolved into {@code SegmentHandle}s once per run of requests to one segment
 * ({@link ServedRequest}).
 *
 * <p>Thread-safe: one instance per transport, shared by all its streams; the per-stream state
 * lives in each stream's {@link ServedRequest}.
 */
public final class SliceServer {
    private final LocalSegments segments;
    private final NotificationListener notifications;
    private final ServingCounters counters = new ServingCounters();

    public SliceServer(LocalSegments segments, NotificationListener notifications) {
        this.segments = segments;
        this.notifications = notifications;
    }

    /** What this server has served and refused. */
    public ServingCounters counters() {
        return counters;
    }

    /**
     * A request's head is in: resolves its segment and checks its range.
     *
     * @param request the stream's request, reset here
     * @param header  the request's header (type without the trailer flag, name, offset, length)
     * @return where its body goes: the segment's range (WRITE), a buffer the listener will own
     *         (NOTIFY), or null (a READ carries none; a refused request's body is dropped)
     */
    public MemorySegment begin(ServedRequest request, FrameHeader header) {
        byte type = header.type();
        request.type = type;
        request.sliceId = header.sliceId();
        request.offset = header.offset();
        request.length = header.bodyLength();
        request.trailer = header.crcTrailer();
        request.refused = null;
        request.refusal = null;
        request.handle = null;
        request.notification = null;
        if (type == SliceFrame.NOTIFY) {
            if (request.length > SliceFrame.MAX_NOTIFICATION_BYTES) {
                refuse(request, SliceFrame.Status.OUT_OF_BOUNDS, "notification of " + request.length
                        + " bytes exceeds " + SliceFrame.MAX_NOTIFICATION_BYTES);
                return null;
            }
            request.notifySegment = header.name();
            request.notification = new byte[request.length]; // handed to the listener, which keeps it
            return MemorySegment.ofArray(request.notification);
        }
        if (type != SliceFrame.WRITE && type != SliceFrame.READ) {
            refuse(request, SliceFrame.Status.MALFORMED, "a server does not accept frame type " + type);
            return null;
        }
        SegmentHandle handle = request.resolve(segments, header);
        if (handle == null) {
            refuse(request, SliceFrame.Status.UNKNOWN_SEGMENT, "unknown segment '" + request.lastName() + "'");
            return null;
        }
        long offset = request.offset;
        int length = request.length;
        if (offset < 0 || length < 1 || offset > handle.bytes() - length) {
            refuse(request, SliceFrame.Status.OUT_OF_BOUNDS, "range [" + offset + ", " + (offset + length)
                    + ") outside segment '" + handle.name() + "' of " + handle.bytes() + " bytes");
            return null;
        }
        request.handle = handle;
        return type == SliceFrame.WRITE ? handle.memory().asSlice(offset, length) : null;
    }

    private static void refuse(ServedRequest request, SliceFrame.Status status, String why) {
        request.refused = status;
        request.refusal = why;
    }

    /**
     * The request is in whole: serves it and answers it.
     *
     * @param bodyCrc     CRC32C of the body as received (0 for a READ or a dropped body)
     * @param expectedCrc the CRC32C the initiator sent (header or trailer)
     */
    public void finish(ServedRequest request, int bodyCrc, int expectedCrc, Answers answers) {
        if (request.refused != null) {
            counters.refused();
            answers.refuse(request.type, request.sliceId, request.offset, request.refused, request.refusal);
            return;
        }
        switch (request.type) {
            case SliceFrame.NOTIFY -> {
                if (bodyCrc != expectedCrc) {
                    counters.crcMismatch();
                    answers.refuse(SliceFrame.NOTIFY, request.sliceId, 0, SliceFrame.Status.CRC_MISMATCH,
                            "notification CRC32C mismatch");
                    return;
                }
                byte[] message = request.notification;
                request.notification = null;
                counters.notified();
                notifications.onNotification(request.notifySegment, message);
                answers.ack(SliceFrame.NOTIFY_ACK, request.sliceId, 0);
            }
            case SliceFrame.WRITE -> {
                if (bodyCrc != expectedCrc) {
                    counters.crcMismatch();
                    answers.refuse(SliceFrame.WRITE, request.sliceId, request.offset, SliceFrame.Status.CRC_MISMATCH,
                            "payload CRC32C mismatch");
                    return;
                }
                counters.written(request.length);
                answers.ack(SliceFrame.WRITE_ACK, request.sliceId, request.offset);
            }
            default -> {
                SegmentHandle handle = request.handle;
                if (!handle.registered()) {
                    counters.refused();
                    answers.refuse(SliceFrame.READ, request.sliceId, request.offset,
                            SliceFrame.Status.UNKNOWN_SEGMENT, "segment '" + handle.name() + "' was unregistered");
                    return;
                }
                counters.read(request.length); // counted before the answer, which a waiting caller may act on at once
                answers.data(request.sliceId, request.offset, handle.memory().asSlice(request.offset, request.length),
                        request.trailer);
            }
        }
    }

    /**
     * The request's body did not arrive as its head said (a message cut short or too long):
     * refused as {@code MALFORMED}.
     */
    public void malformed(ServedRequest request, String why, Answers answers) {
        counters.refused();
        answers.refuse(request.type, request.sliceId, request.offset, SliceFrame.Status.MALFORMED, why);
    }
}
