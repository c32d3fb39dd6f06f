package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.transport.NotificationListener;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.MalformedFrameException;
import dev.ferry.transfer.transport.frame.RangeCheck;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Serves WRITE and READ frames against this node's {@link LocalSegments}: one-sided, the
 * target's CPU only copies. A WRITE payload streams straight into the segment range it
 * names (an uncommitted allocation) and is acknowledged only when its CRC32C matches; on a
 * mismatch the initiator resends it. A request outside the segment or for an unknown
 * segment gets an error answer (its payload is read and dropped); a malformed frame gets an
 * error answer when its slice id is readable and the connection is closed.
 *
 * <p>One instance per connection; runs on that connection's event loop.
 */
final class SliceServerHandler extends SliceFrameReader {
    private final LocalSegments segments;
    private final TcpCounters counters;
    private final NotificationListener notifications;
    private byte[] message;
    private SliceFrame.Status refused;
    private final CRC32C readCrc = new CRC32C();
    private String refusal;

    SliceServerHandler(LocalSegments segments, TcpCounters counters, NotificationListener notifications) {
        this.segments = segments;
        this.counters = counters;
        this.notifications = notifications;
    }

    @Override
    MemorySegment onHeader(ChannelHandlerContext ctx, FrameHeader header) {
        byte type = header.type();
        if (type != SliceFrame.WRITE && type != SliceFrame.READ && type != SliceFrame.NOTIFY) {
            throw new MalformedFrameException("a server does not accept frame type " + type);
        }
        refused = null;
        if (type == SliceFrame.NOTIFY) {
            if (header.bodyLength() > SliceFrame.MAX_NOTIFICATION_BYTES) {
                refuse(SliceFrame.Status.OUT_OF_BOUNDS, "notification of " + header.bodyLength() + " bytes exceeds "
                        + SliceFrame.MAX_NOTIFICATION_BYTES);
                return null;
            }
            message = new byte[header.bodyLength()];
            return MemorySegment.ofArray(message);
        }
        RangeCheck.Refusal refusal = RangeCheck.refusal(segments, header.name(), header.offset(), header.bodyLength());
        if (refusal != null) {
            refuse(refusal.status(), refusal.message());
            return null;
        }
        return segments.find(header.name()).asSlice(header.offset(), header.bodyLength());
    }

    private void refuse(SliceFrame.Status status, String why) {
        refused = status;
        refusal = why;
    }

    @Override
    void onFrame(ChannelHandlerContext ctx, FrameHeader header, int payloadCrc, String errorText) {
        if (refused != null) {
            reply(ctx, SliceFrame.error(ctx.alloc(), header.type(), header.sliceId(), header.offset(), refused, refusal));
            return;
        }
        if (header.type() == SliceFrame.NOTIFY) {
            if (payloadCrc != header.crc()) {
                counters.crcMismatches.increment();
                reply(ctx, SliceFrame.error(ctx.alloc(), SliceFrame.NOTIFY, header.sliceId(), 0,
                        SliceFrame.Status.CRC_MISMATCH, "notification CRC32C mismatch"));
                return;
            }
            notifications.onNotification(header.name(), message);
            reply(ctx, SliceFrame.header(ctx.alloc(), SliceFrame.NOTIFY_ACK, header.sliceId(), 0, 0, 0,
                    SliceFrame.Status.OK, null));
            return;
        }
        if (header.type() == SliceFrame.WRITE) {
            if (payloadCrc != header.crc()) {
                counters.crcMismatches.increment();
                reply(ctx, SliceFrame.error(ctx.alloc(), SliceFrame.WRITE, header.sliceId(), header.offset(),
                        SliceFrame.Status.CRC_MISMATCH, "payload CRC32C mismatch"));
                return;
            }
            counters.bytesWritten.add(header.bodyLength());
            reply(ctx, SliceFrame.header(ctx.alloc(), SliceFrame.WRITE_ACK, header.sliceId(), header.offset(), 0, 0,
                    SliceFrame.Status.OK, null));
            return;
        }
        int length = header.bodyLength();
        ByteBuffer bytes = segments.find(header.name()).asSlice(header.offset(), length).asByteBuffer();
        counters.bytesRead.add(length); // counted before the answer, which a waiting caller may act on at once
        // The payload goes out straight from the segment: no copy in user space. The initiator,
        // which knows whether it awaits other answers, says which frame it wants (CRC_TRAILER).
        boolean alone = !header.crcTrailer();
        ctx.writeAndFlush(ChecksummedPayload.frame(ctx.alloc(), SliceFrame.READ_DATA, header.sliceId(), header.offset(),
                null, bytes, alone, alone ? SliceFrame.crc(readCrc, bytes) : 0), ctx.voidPromise());
    }

    @Override
    void onMalformed(ChannelHandlerContext ctx, long sliceId, String why) {
        counters.malformedFrames.increment();
        ctx.writeAndFlush(SliceFrame.error(ctx.alloc(), SliceFrame.WRITE, sliceId, 0, SliceFrame.Status.MALFORMED, why))
                .addListener(f -> ctx.close());
    }

    private static void reply(ChannelHandlerContext ctx, ByteBuf frame) {
        ctx.writeAndFlush(frame, ctx.voidPromise());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        counters.connectionErrors.increment();
        ctx.close();
    }
}
