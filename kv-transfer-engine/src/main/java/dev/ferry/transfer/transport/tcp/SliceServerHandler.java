package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.segment.LocalSegments;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Serves WRITE and READ frames against this node's {@link LocalSegments}: one-sided, the
 * target's CPU only copies. A WRITE whose payload fails its CRC32C is refused (the
 * initiator retries); a request outside the segment or for an unknown segment gets an
 * error answer; a malformed frame gets an error answer when its slice id is readable and
 * the connection is closed, since the byte stream can no longer be trusted.
 *
 * <p>One instance per connection; runs on that connection's event loop.
 */
final class SliceServerHandler extends ChannelInboundHandlerAdapter {
    private final LocalSegments segments;
    private final TcpCounters counters;
    private final FrameHeader header = new FrameHeader();
    private final CRC32C crc = new CRC32C();

    SliceServerHandler(LocalSegments segments, TcpCounters counters) {
        this.segments = segments;
        this.counters = counters;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf frame = (ByteBuf) msg;
        try {
            header.wrap(frame);
            switch (header.type()) {
                case SliceFrame.WRITE -> onWrite(ctx, frame);
                case SliceFrame.READ -> onRead(ctx);
                default -> throw new MalformedFrameException("a server does not accept frame type " + header.type());
            }
        } catch (MalformedFrameException e) {
            counters.malformedFrames.increment();
            long sliceId = frame.readableBytes() >= SliceFrame.HEADER_BYTES ? frame.getLong(frame.readerIndex() + 4) : -1;
            ctx.writeAndFlush(SliceFrame.error(ctx.alloc(), SliceFrame.WRITE, sliceId, 0, SliceFrame.Status.MALFORMED,
                    e.getMessage())).addListener(f -> ctx.close());
        } finally {
            frame.release();
        }
    }

    private void onWrite(ChannelHandlerContext ctx, ByteBuf frame) {
        int length = header.bodyLength();
        MemorySegment target = checkedTarget(ctx, SliceFrame.WRITE, length);
        if (target == null) {
            return;
        }
        if (SliceFrame.crc(crc, frame, header.bodyIndex(), length) != header.crc()) {
            counters.crcMismatches.increment();
            reply(ctx, SliceFrame.error(ctx.alloc(), SliceFrame.WRITE, header.sliceId(), header.offset(),
                    SliceFrame.Status.CRC_MISMATCH, "payload CRC32C mismatch"));
            return;
        }
        long at = header.offset();
        for (ByteBuffer part : frame.nioBuffers(header.bodyIndex(), length)) {
            int n = part.remaining();
            MemorySegment.copy(MemorySegment.ofBuffer(part), 0, target, at, n);
            at += n;
        }
        counters.bytesWritten.add(length);
        reply(ctx, SliceFrame.header(ctx.alloc(), SliceFrame.WRITE_ACK, header.sliceId(), header.offset(), 0, 0,
                SliceFrame.Status.OK, null));
    }

    private void onRead(ChannelHandlerContext ctx) {
        int length = header.bodyLength();
        MemorySegment target = checkedTarget(ctx, SliceFrame.READ, length);
        if (target == null) {
            return;
        }
        ByteBuffer bytes = target.asSlice(header.offset(), length).asByteBuffer();
        int checksum = SliceFrame.crc(crc, bytes);
        ByteBuf head = SliceFrame.header(ctx.alloc(), SliceFrame.READ_DATA, header.sliceId(), header.offset(), length,
                checksum, SliceFrame.Status.OK, null);
        // The payload goes out straight from the segment: no copy in user space.
        reply(ctx, Unpooled.wrappedBuffer(head, Unpooled.wrappedBuffer(bytes)));
        counters.bytesRead.add(length);
    }

    /** The segment when the request's range lies inside it; otherwise answers with an error and returns null. */
    private MemorySegment checkedTarget(ChannelHandlerContext ctx, byte type, int length) {
        String name = header.name();
        MemorySegment target = segments.find(name);
        if (target == null) {
            reply(ctx, SliceFrame.error(ctx.alloc(), type, header.sliceId(), header.offset(),
                    SliceFrame.Status.UNKNOWN_SEGMENT, "unknown segment '" + name + "'"));
            return null;
        }
        long offset = header.offset();
        if (offset < 0 || length < 1 || offset > target.byteSize() - length) {
            reply(ctx, SliceFrame.error(ctx.alloc(), type, header.sliceId(), offset, SliceFrame.Status.OUT_OF_BOUNDS,
                    "range [" + offset + ", " + (offset + length) + ") outside segment '" + name + "' of "
                            + target.byteSize() + " bytes"));
            return null;
        }
        return target;
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
