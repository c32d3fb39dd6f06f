package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.MalformedFrameException;
import dev.ferry.transfer.transport.frame.SliceFrame;
import dev.ferry.transfer.transport.serve.ServedRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;
import org.agrona.DirectBuffer;

/**
 * The message being received from one Aeron image (one sender's publication), taken
 * fragment by fragment as Aeron delivers them: the head of the first fragment (reply
 * endpoint, frame header, segment name) is parsed, and the body of that fragment and of
 * the ones after it is copied straight into its destination and checksummed (CRC32C) while
 * it is in cache. Aeron's {@code FragmentAssembler} would first assemble the whole message
 * in a buffer of its own, one more copy of every byte.
 *
 * <p>The destination holds the body before its CRC32C is known, so it must be memory that
 * nobody reads until the message is accepted (an uncommitted allocation, or the buffer of a
 * pending READ), as with TCP's {@code SliceFrameReader}. Short bodies (notifications and
 * error texts, at most {@link #SCRATCH_BYTES}) are taken into a scratch buffer instead.
 *
 * <p>One per image; used by the receiver agent only; not thread-safe.
 */
final class InboundMessage {
    /** Longest body taken into the scratch buffer, bytes (notifications and error texts). */
    static final int SCRATCH_BYTES = SliceFrame.MAX_NOTIFICATION_BYTES;
    /** Longest reply endpoint, bytes. */
    static final int MAX_REPLY_BYTES = 256;

    final FrameHeader header = new FrameHeader();
    private final byte[] headBytes = new byte[SliceFrame.HEADER_BYTES + SliceFrame.MAX_NAME_BYTES];
    private final ByteBuf head = Unpooled.wrappedBuffer(headBytes);
    private final CRC32C crc = new CRC32C();
    private ByteBuffer scratch;
    private ByteBuffer destination;
    private long expected;
    private long received;
    private boolean overflow;
    private boolean active;
    private boolean isRequest;
    /** The request in progress, as the shared serving core sees it. */
    final ServedRequest request = new ServedRequest();
    /** Where answers to the request in progress go (kept while requests name the same endpoint). */
    AnswerChannel replyTo;
    private byte[] replyBytes = new byte[0];
    /** The READ slice whose data the message in progress carries, or null. */
    Slice readSlice;

    /**
     * Starts a message at its first fragment.
     *
     * @return where the body starts in {@code buffer}, or -1 when the head is malformed or cut
     *         short (the message is then dropped)
     */
    int begin(DirectBuffer buffer, int offset, int length) {
        active = false;
        readSlice = null;
        destination = null;
        received = 0;
        overflow = false;
        crc.reset();
        if (length < 4) {
            return -1;
        }
        int replyLength = buffer.getInt(offset);
        int frameAt = offset + 4 + replyLength;
        int headLength = length - 4 - replyLength - 4;
        if (replyLength < 0 || replyLength > MAX_REPLY_BYTES || headLength < SliceFrame.HEADER_BYTES) {
            return -1; // not ours, or cut short
        }
        long frameLength = buffer.getInt(frameAt, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
        int take = Math.min(headLength, headBytes.length);
        buffer.getBytes(frameAt + 4, headBytes, 0, take);
        head.setIndex(0, take);
        try {
            header.wrap(head, frameLength);
        } catch (MalformedFrameException e) {
            return -1;
        }
        if (header.crcTrailer()) {
            return -1; // a TCP frame's layout: Aeron messages carry the CRC32C in the head
        }
        int bodyAt = frameAt + 4 + SliceFrame.HEADER_BYTES + header.nameLength();
        if (bodyAt > offset + length) {
            return -1; // the name does not fit the first fragment
        }
        isRequest = replyLength > 0;
        expected = header.bodyBytes();
        active = true;
        return bodyAt;
    }

    /**
     * Whether the request begun from {@code buffer} names the same reply endpoint as the one
     * before it on this image ({@link #replyTo} then still holds), without allocating. Several
     * engines on one media driver may publish on one image, so each request names its own.
     */
    boolean sameReplyAsBefore(DirectBuffer buffer, int offset) {
        int n = buffer.getInt(offset);
        if (replyTo == null || n != replyBytes.length) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            if (buffer.getByte(offset + 4 + i) != replyBytes[i]) {
                return false;
            }
        }
        return true;
    }

    /** Records the reply endpoint of the request begun from {@code buffer}; returns it (allocates). */
    String rememberReply(DirectBuffer buffer, int offset) {
        replyBytes = new byte[buffer.getInt(offset)];
        buffer.getBytes(offset + 4, replyBytes);
        return new String(replyBytes, StandardCharsets.US_ASCII);
    }

    /** Whether a message is in progress (begun, not ended). */
    boolean active() {
        return active;
    }

    /** Ends the message in progress. */
    void end() {
        active = false;
    }

    /** Whether the message is a request (it names a reply endpoint) rather than an answer. */
    boolean isRequest() {
        return isRequest;
    }

    /** The body goes into {@code memory} (exactly the body's length). */
    void receiveInto(MemorySegment memory) {
        destination = memory.asByteBuffer();
    }

    /** The body, at most {@link #SCRATCH_BYTES}, goes into the scratch buffer; a longer one is dropped. */
    void receiveIntoScratch() {
        if (expected > SCRATCH_BYTES) {
            overflow = true;
            return;
        }
        if (scratch == null) {
            scratch = ByteBuffer.allocateDirect(SCRATCH_BYTES);
        }
        destination = scratch.clear().limit((int) expected);
    }

    /** Takes body bytes: copies them into the destination (if any) and checksums them there. */
    void append(DirectBuffer buffer, int offset, int length) {
        if (length <= 0) {
            return;
        }
        if (received + length > expected) {
            overflow = true;
        } else if (destination != null) {
            int at = (int) received;
            buffer.getBytes(offset, destination, at, length);
            destination.limit(at + length).position(at);
            crc.update(destination);
        }
        received += length;
    }

    /** Whether the body arrived whole: as many bytes as the header said, no more. */
    boolean complete() {
        return !overflow && received == expected;
    }

    /** Whether the body went somewhere (not dropped). */
    boolean kept() {
        return destination != null && !overflow;
    }

    /** CRC32C of the body as received. */
    int crc() {
        return (int) crc.getValue();
    }

    /** A copy of a body taken into the scratch buffer. */
    byte[] scratchBytes() {
        byte[] out = new byte[(int) Math.min(received, expected)];
        if (destination == scratch && scratch != null) {
            scratch.get(0, out);
        }
        return out;
    }
}
