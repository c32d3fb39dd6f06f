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
 * <p>Not thread-safe: one owner at a time (the sender, for a link; an answer in its queue).
 */
final class MessageHead {
    private final byte[] bytes;
    private final ByteBuf frame;
    private final UnsafeBuffer view;
    private final int prefix;

    /** @param replyTo the sender's reply endpoint (requests), or empty (answers) */
    MessageHead(byte[] replyTo) {
        this(replyTo, 0);
    }

    /**
     * @param replyTo   the sender's reply endpoint (requests), or empty (answers)
     * @param textBytes room for an error text after the header, bytes (answers)
     */
    MessageHead(byte[] replyTo, int textBytes) {
        this.prefix = 4 + replyTo.length;
        this.bytes = new byte[prefix + 4 + SliceFrame.HEADER_BYTES + SliceFrame.MAX_NAME_BYTES + textBytes];
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

    /**
     * Writes a whole error answer to a request of {@code requestType}: header and text, the
     * text cut to the room this head has.
     *
     * @return the whole message, valid until the next call
     */
    DirectBuffer writeError(byte requestType, long sliceId, long offset, SliceFrame.Status status, String text) {
        byte[] utf8 = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int room = bytes.length - prefix - 4 - SliceFrame.HEADER_BYTES;
        int n = Math.min(utf8.length, room);
        byte answer = requestType == SliceFrame.READ ? SliceFrame.READ_DATA
                : requestType == SliceFrame.NOTIFY ? SliceFrame.NOTIFY_ACK : SliceFrame.WRITE_ACK;
        frame.setIndex(0, prefix);
        SliceFrame.writeHeader(frame, answer, sliceId, offset, n, 0, status, null);
        frame.writeBytes(utf8, 0, n);
        view.wrap(bytes, 0, frame.writerIndex());
        return view;
    }
}
