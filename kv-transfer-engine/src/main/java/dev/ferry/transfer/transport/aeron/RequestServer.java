package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.transport.NotificationListener;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.RangeCheck;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.aeron.Aeron;
import io.aeron.Publication;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32C;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The serving side of an {@link AeronTransport}: takes the requests that arrive for this
 * node's segments (WRITE bodies streamed straight into the segment, READs answered from it,
 * notifications handed to the listener) and answers each on a publication to the sender's
 * reply endpoint ({@code HOST:PORT} over UDP, {@code ipc:STREAM} over IPC), with the
 * answer's head written into one reused buffer.
 *
 * <p>Called by the transport's poller only (the answer publications may be made by other
 * threads too); not thread-safe otherwise.
 */
final class RequestServer {
    private final LocalSegments segments;
    private final NotificationListener notifications;
    private final Aeron aeron;
    private final Offers offers;
    private final Map<String, Publication> answers = new ConcurrentHashMap<>();
    private final MessageHead answerHead = new MessageHead(new byte[0]);
    private final UnsafeBuffer answerPayload = new UnsafeBuffer(new byte[0]);
    private final CRC32C crc = new CRC32C();

    RequestServer(LocalSegments segments, NotificationListener notifications, Aeron aeron, Offers offers) {
        this.segments = segments;
        this.notifications = notifications;
        this.aeron = aeron;
        this.offers = offers;
    }

    /** The publication that answers go on, for a request's reply endpoint: a UDP endpoint or {@code ipc:STREAM}. */
    Publication answerPublication(String reply) {
        return answers.computeIfAbsent(reply, r -> r.startsWith(AeronTransport.IPC_REPLY)
                ? aeron.addPublication(AeronTransport.IPC_CHANNEL, Integer.parseInt(r.substring(
                        AeronTransport.IPC_REPLY.length())))
                : aeron.addPublication("aeron:udp?endpoint=" + r + AeronTransport.PUBLICATION_PARAMS,
                        AeronTransport.STREAM_ID));
    }

    /** A request's head is in: names where its body goes. */
    void head(InboundMessage in) {
        FrameHeader header = in.header;
        if (header.type() == SliceFrame.NOTIFY) {
            in.receiveIntoScratch();
        } else if (header.type() == SliceFrame.WRITE) {
            String name = in.segmentName();
            if (RangeCheck.refusal(segments, name, header.offset(), header.bodyLength()) == null) {
                in.receiveInto(segments.find(name).asSlice(header.offset(), header.bodyLength()));
            }
        }
    }

    /** A request is in whole: serves it and answers on the sender's reply publication. */
    void serve(InboundMessage in) {
        FrameHeader header = in.header;
        byte type = header.type();
        long offset = header.offset();
        int length = header.bodyLength();
        DirectBuffer head;
        UnsafeBuffer payload = null;
        if (!in.complete()) {
            head = message(new byte[0], SliceFrame.error(UnpooledByteBufAllocator.DEFAULT, type, header.sliceId(),
                    offset, SliceFrame.Status.MALFORMED, "message of the wrong length"));
        } else if (type == SliceFrame.NOTIFY) {
            if (in.crc() != header.crc()) {
                head = message(new byte[0], SliceFrame.error(UnpooledByteBufAllocator.DEFAULT, type,
                        header.sliceId(), offset, SliceFrame.Status.CRC_MISMATCH, "notification CRC32C mismatch"));
            } else {
                notifications.onNotification(in.segmentName(), in.scratchBytes());
                head = answerHead.write(SliceFrame.NOTIFY_ACK, header.sliceId(), 0, 0, 0, SliceFrame.Status.OK, null);
            }
        } else {
            String name = in.segmentName();
            RangeCheck.Refusal refusal = RangeCheck.refusal(segments, name, offset, length);
            if (refusal != null) {
                head = message(new byte[0], SliceFrame.error(UnpooledByteBufAllocator.DEFAULT, type,
                        header.sliceId(), offset, refusal.status(), refusal.message()));
            } else if (type == SliceFrame.WRITE) {
                head = in.crc() == header.crc()
                        ? answerHead.write(SliceFrame.WRITE_ACK, header.sliceId(), offset, 0, 0, SliceFrame.Status.OK,
                                null)
                        : message(new byte[0], SliceFrame.error(UnpooledByteBufAllocator.DEFAULT, type,
                                header.sliceId(), offset, SliceFrame.Status.CRC_MISMATCH, "payload CRC32C mismatch"));
            } else {
                MemorySegment bytes = segments.find(name).asSlice(offset, length);
                payload = AeronTransport.wrap(answerPayload, bytes);
                head = answerHead.write(SliceFrame.READ_DATA, header.sliceId(), offset, length,
                        SliceFrame.crc(crc, bytes.asByteBuffer()), SliceFrame.Status.OK, null);
            }
        }
        // An answer that cannot go out is dropped; the initiator's link then stalls and resends elsewhere.
        offers.offer(in.replyTo, head, payload, true);
    }

    /** A whole message (a complete frame after {@code replyTo}), for the rare error answers. */
    private static UnsafeBuffer message(byte[] replyTo, ByteBuf frame) {
        byte[] bytes = new byte[4 + replyTo.length + frame.readableBytes()];
        UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        buffer.putInt(0, replyTo.length);
        buffer.putBytes(4, replyTo);
        frame.getBytes(frame.readerIndex(), bytes, 4 + replyTo.length, frame.readableBytes());
        frame.release();
        return buffer;
    }
}
