package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.transport.SessionFences;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.MalformedFrameException;
import dev.ferry.transfer.transport.frame.SliceFrame;
import dev.ferry.transfer.transport.serve.Answers;
import dev.ferry.transfer.transport.serve.ServedRequest;
import dev.ferry.transfer.transport.serve.SliceServer;
import io.netty.channel.ChannelHandlerContext;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The TCP side of the {@link SliceServer}: reads request frames off one connection (payloads
 * streamed into place by {@link SliceFrameReader}) and writes the answers the server chooses
 * as frames on it. A malformed frame gets an error answer when its slice id is readable and
 * the connection is closed. A HELLO registers the connection's token with the
 * {@link ConnectionFences}; a FENCE closes the connection of the token it names and is answered
 * once that connection is closed.
 *
 * <p>One instance per connection; runs on that connection's event loop.
 */
final class SliceServerHandler extends SliceFrameReader implements Answers {
    private final SliceServer server;
    private final TcpCounters counters;
    private final ConnectionFences fences;
    private final SessionFences sessionFences;
    private long token;
    private boolean helloSeen;
    private final ServedRequest request = new ServedRequest();
    private final CRC32C readCrc = new CRC32C();
    private ChannelHandlerContext ctx;
    /** Whether a read's frames are being handled: answers then wait for one flush when the read ends. */
    private boolean inRead;
    /** Answers written since the last flush. */
    private boolean unflushed;

    SliceServerHandler(SliceServer server, TcpCounters counters, ConnectionFences fences,
                       SessionFences sessionFences) {
        this.sessionFences = sessionFences;
        this.server = server;
        this.counters = counters;
        this.fences = fences;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        super.handlerAdded(ctx);
    }

    @Override
    MemorySegment onHeader(ChannelHandlerContext ctx, FrameHeader header) {
        byte type = header.type();
        if (type == SliceFrame.HELLO || type == SliceFrame.FENCE || type == SliceFrame.FENCE_SESSION) {
            return null; // no body: handled in onFrame
        }
        if (type != SliceFrame.WRITE && type != SliceFrame.READ && type != SliceFrame.NOTIFY) {
            throw new MalformedFrameException("a server does not accept frame type " + type);
        }
        return server.begin(request, header);
    }

    @Override
    void onFrame(ChannelHandlerContext ctx, FrameHeader header, int payloadCrc, String errorText) {
        if (header.type() == SliceFrame.HELLO) {
            if (helloSeen || !fences.hello(header.offset(), ctx.channel())) {
                counters.fencedConnections.increment();
                closeNow(ctx); // fenced before its bytes arrived (or a second HELLO): nothing more is read
                return;
            }
            helloSeen = true;
            token = header.offset();
            return;
        }
        if (header.type() == SliceFrame.FENCE) {
            long sliceId = header.sliceId();
            long fencedToken = header.offset();
            counters.fencesServed.increment();
            fences.fence(fencedToken).whenComplete((v, e) -> ack(SliceFrame.FENCE_ACK, sliceId, fencedToken));
            return;
        }
        if (header.type() == SliceFrame.FENCE_SESSION) {
            // An Aeron session of the initiator, fenced by this engine's Aeron receiver: TCP is the other path there.
            long sliceId = header.sliceId();
            long session = header.offset();
            sessionFences.fence((int) session, header.name())
                    .whenComplete((v, e) -> ack(SliceFrame.FENCE_SESSION_ACK, sliceId, session));
            return;
        }
        server.finish(request, payloadCrc, header.crc(), this);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        inRead = true;
        try {
            super.channelRead(ctx, msg);
        } finally {
            inRead = false;
        }
    }

    /** Flushes the answers of the frames this read brought: one write for all of them. */
    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (unflushed) {
            unflushed = false;
            ctx.flush();
        }
        ctx.fireChannelReadComplete();
    }

    /** Writes an answer: flushed when the read that brought its request ends, or now when outside one. */
    private void answer(Object frame) {
        if (inRead && ctx.executor().inEventLoop()) {
            ctx.write(frame, ctx.voidPromise());
            unflushed = true;
        } else {
            ctx.writeAndFlush(frame, ctx.voidPromise());
        }
    }

    @Override
    public void ack(byte ackType, long sliceId, long offset) {
        answer(SliceFrame.header(ctx.alloc(), ackType, sliceId, offset, 0, 0, SliceFrame.Status.OK, null));
    }

    @Override
    public void data(long sliceId, long offset, MemorySegment bytes, boolean trailer) {
        // The payload goes out straight from the segment: no copy in user space. The initiator,
        // which knows whether it awaits other answers, says which frame it wants (CRC_TRAILER).
        ByteBuffer buffer = bytes.asByteBuffer();
        boolean whole = ChecksummedPayload.inOneWrite(!trailer, buffer.remaining());
        answer(ChecksummedPayload.frame(ctx.alloc(), SliceFrame.READ_DATA, sliceId, offset, null, buffer, whole,
                whole ? SliceFrame.crc(readCrc, buffer) : 0));
    }

    @Override
    public void refuse(byte requestType, long sliceId, long offset, SliceFrame.Status status, String why) {
        answer(SliceFrame.error(ctx.alloc(), requestType, sliceId, offset, status, why));
    }

    @Override
    void onMalformed(ChannelHandlerContext ctx, long sliceId, String why) {
        counters.malformedFrames.increment();
        ctx.writeAndFlush(SliceFrame.error(ctx.alloc(), SliceFrame.WRITE, sliceId, 0, SliceFrame.Status.MALFORMED, why))
                .addListener(f -> ctx.close());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (helloSeen) {
            fences.gone(token, ctx.channel());
        }
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        counters.connectionErrors.increment();
        ctx.close();
    }
}
