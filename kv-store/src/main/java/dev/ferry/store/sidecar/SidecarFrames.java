package dev.ferry.store.sidecar;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Framing of the sidecar protocol ({@link SidecarProtocol}): the decoder that cuts the byte
 * stream into frames, and the writers of answers. Stateless; thread-safe.
 */
final class SidecarFrames {
    /** Longest error message sent back, bytes of UTF-8. */
    static final int MAX_MESSAGE_BYTES = 1024;

    private SidecarFrames() {
    }

    /**
     * A decoder of frames of at most {@code maxFrameBytes} bytes (length field included);
     * a longer one fails at once with a {@link io.netty.handler.codec.TooLongFrameException}.
     */
    static Decoder decoder(int maxFrameBytes) {
        return new Decoder(maxFrameBytes);
    }

    /**
     * The frame decoder, which also tells how many bytes of an unfinished frame it holds and
     * how many bytes it received in all (progress, for the frame timeout). Event loop only.
     */
    static final class Decoder extends LengthFieldBasedFrameDecoder {
        private long receivedBytes;

        Decoder(int maxFrameBytes) {
            super(ByteOrder.LITTLE_ENDIAN, maxFrameBytes, 0, 4, 0, 0, true);
        }

        @Override
        public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) throws Exception {
            if (msg instanceof ByteBuf b) {
                receivedBytes += b.readableBytes();
            }
            super.channelRead(ctx, msg);
        }

        /** Bytes received from the socket so far. */
        long receivedBytes() {
            return receivedBytes;
        }

        /** Bytes received of a frame not complete yet (0 between frames). */
        int partialBytes() {
            return actualReadableBytes();
        }
    }

    /** An answer with its header written; the caller appends the body and calls {@link #finish}. */
    static ByteBuf start(ByteBufAllocator alloc, int opcode, long requestId, int bodyHint) {
        ByteBuf out = alloc.ioBuffer(SidecarProtocol.HEADER_BYTES + Math.max(bodyHint, 0));
        out.writeIntLE(0).writeShortLE(opcode).writeShortLE(SidecarProtocol.OK).writeLongLE(requestId);
        return out;
    }

    /** Sets the length field of an answer; returns it. */
    static ByteBuf finish(ByteBuf out) {
        out.setIntLE(out.readerIndex(), out.readableBytes() - 4);
        return out;
    }

    /** An error answer: the status and a message (u16 length, UTF-8, at most {@link #MAX_MESSAGE_BYTES}). */
    static ByteBuf error(ByteBufAllocator alloc, int opcode, long requestId, int status, String message) {
        byte[] text = (message == null ? "" : message).getBytes(StandardCharsets.UTF_8);
        int n = Math.min(text.length, MAX_MESSAGE_BYTES);
        ByteBuf out = alloc.ioBuffer(SidecarProtocol.HEADER_BYTES + 2 + n);
        out.writeIntLE(SidecarProtocol.HEADER_AFTER_LENGTH + 2 + n).writeShortLE(opcode).writeShortLE(status)
                .writeLongLE(requestId).writeShortLE(n).writeBytes(text, 0, n);
        return out;
    }
}
