package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.transport.frame.SliceFrame;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The head of an outgoing Aeron message, written into a buffer that is reused from one
 * message to the next: {@code [i32 reply-endpoint length][reply endpoint, ASCII][frame
 * length, header and segment name]} (the frame as in {@link SliceFrame}). The payload, if
 * any, is offered beside it from where it lies, so nothing is allocated per message.
 *
 * <p>Not thread-safe: one owner at a time (a link under its lock, or the poller).
 */
final class MessageHead {
    private final byte[] bytes;
    private final ByteBuf frame;
    private final UnsafeBuffer view;
    private final int prefix;

    /** @param replyTo the sender's reply endpoint (requests), or empty (answers) */
    MessageHead(byte[] replyTo) {
        this.prefix = 4 + replyTo.length;
        this.bytes = new byte[prefix + 4 + SliceFrame.HEADER_BYTES + SliceFrame.MAX_NAME_BYTES];
        this.view = new UnsafeBuffer(bytes);
        view.putInt(0, replyTo.length);
        view.putBytes(4, replyTo);
        this.frame = Unpooled.wrappedBuffer(bytes);
    }

    /**
     * Writes a frame header (as {@link SliceFrame#header}) after the reply endpoint.
     *
     * @return the whole head, valid until the next call
     */
    DirectBuffer write(byte type, long sliceId, long offset, int bodyLength, int crc, SliceFrame.Status status,
                       byte[] name) {
        frame.setIndex(0, prefix);
        SliceFrame.writeHeader(frame, type, sliceId, offset, bodyLength, crc, status, name);
        view.wrap(bytes, 0, frame.writerIndex());
        return view;
    }
}
