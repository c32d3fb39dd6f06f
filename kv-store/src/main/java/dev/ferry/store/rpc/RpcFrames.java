package dev.ferry.store.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;

/** Framing shared by {@link RpcServer} and {@link RpcClient}. */
final class RpcFrames {
    static final byte REQUEST = 0;
    static final byte ANSWER = 1;
    static final byte ERROR = 2;
    static final int HEADER_BYTES = 11;
    static final int MAX_FRAME_BYTES = 64 << 20;

    private RpcFrames() {
    }

    static LengthFieldBasedFrameDecoder decoder() {
        return new LengthFieldBasedFrameDecoder(MAX_FRAME_BYTES, 0, 4, 0, 4);
    }

    /** A frame buffer with its header written and the length left to {@link #finish}. */
    static ByteBuf start(ByteBufAllocator alloc, byte kind, long callId, int method) {
        ByteBuf buf = alloc.buffer(64);
        buf.writeInt(0).writeByte(kind).writeLong(callId).writeShort(method);
        return buf;
    }

    static ByteBuf finish(ByteBuf frame) {
        frame.setInt(0, frame.readableBytes() - 4);
        return frame;
    }

    static ByteBuf error(ByteBufAllocator alloc, long callId, int method, RpcException e) {
        ByteBuf buf = start(alloc, ERROR, callId, method);
        buf.writeShort(e.status());
        String text = e.getMessage() == null ? e.toString() : e.getMessage();
        Wire.writeString(buf, text.length() > 4000 ? text.substring(0, 4000) : text);
        return finish(buf);
    }
}
