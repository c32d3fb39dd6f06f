package dev.ferry.store.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;

/**
 * Framing shared by {@link RpcServer} and {@link RpcClient}: after the length, a header of
 * kind, call id, method and epoch ({@link dev.ferry.store.rpc} shows the layout). The epoch
 * of an answer is the server's ({@link ServerEpoch}), set when the answer is sent; that of a
 * request is the highest its client has seen ({@link EpochFence}).
 */
final class RpcFrames {
    static final byte REQUEST = 0;
    static final byte ANSWER = 1;
    static final byte ERROR = 2;
    static final int HEADER_BYTES = 19;
    /** Where the epoch sits in a received frame (its length field stripped). */
    static final int RECEIVED_EPOCH_OFFSET = 1 + 8 + 2;
    /** Where the epoch sits in a frame, counting the length field. */
    private static final int EPOCH_OFFSET = 4 + 1 + 8 + 2;
    static final int MAX_FRAME_BYTES = 64 << 20;

    private RpcFrames() {
    }

    static LengthFieldBasedFrameDecoder decoder() {
        return new LengthFieldBasedFrameDecoder(MAX_FRAME_BYTES, 0, 4, 0, 4);
    }

    /** A frame buffer with its header written, epoch 0, and the length left to {@link #finish}. */
    static ByteBuf start(ByteBufAllocator alloc, byte kind, long callId, int method) {
        ByteBuf buf = alloc.buffer(64);
        buf.writeInt(0).writeByte(kind).writeLong(callId).writeShort(method).writeLong(0);
        return buf;
    }

    static ByteBuf finish(ByteBuf frame) {
        frame.setInt(0, frame.readableBytes() - 4);
        return frame;
    }

    /** Sets the epoch and the length. */
    static ByteBuf finish(ByteBuf frame, long epoch) {
        frame.setLong(EPOCH_OFFSET, epoch);
        return finish(frame);
    }

    static ByteBuf error(ByteBufAllocator alloc, long callId, int method, long epoch, RpcException e) {
        ByteBuf buf = start(alloc, ERROR, callId, method);
        buf.writeShort(e.status());
        String text = e.getMessage() == null ? e.toString() : e.getMessage();
        Wire.writeString(buf, text.length() > 4000 ? text.substring(0, 4000) : text);
        return finish(buf, epoch);
    }
}
