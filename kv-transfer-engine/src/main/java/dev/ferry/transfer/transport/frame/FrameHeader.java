package dev.ferry.transfer.transport.frame;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * A flyweight over the header of one received frame (the bytes after the length field, up
 * to and including the segment name). Reused per connection; not thread-safe.
 */
public final class FrameHeader {
    private ByteBuf frame;

    /**
     * Points at the header of a frame: {@code head} holds the bytes after the length field,
     * at least the fixed header (and the segment name, for {@link #name()}).
     *
     * @param frameLength the frame's length field: bytes after it
     * @throws MalformedFrameException if the header has a bad magic, version or type, or
     *                                 lengths that do not add up to {@code frameLength}
     */
    public FrameHeader wrap(ByteBuf head, long frameLength) {
        this.frame = head;
        int readable = head.readableBytes();
        if (readable < SliceFrame.HEADER_BYTES || frameLength < SliceFrame.HEADER_BYTES) {
            throw new MalformedFrameException("frame of " + frameLength + " bytes is shorter than the "
                    + SliceFrame.HEADER_BYTES + "-byte header");
        }
        short magic = head.getShort(head.readerIndex());
        if (magic != SliceFrame.MAGIC) {
            throw new MalformedFrameException(String.format("bad magic 0x%04x", magic));
        }
        byte version = head.getByte(head.readerIndex() + 2);
        if (version != SliceFrame.VERSION) {
            throw new MalformedFrameException("unsupported frame version " + version);
        }
        byte type = type();
        if (type < SliceFrame.WRITE || type > SliceFrame.FENCE_SESSION_ACK) {
            throw new MalformedFrameException("unknown frame type " + type);
        }
        if (crcTrailer() && (status() != SliceFrame.Status.OK
                || type == SliceFrame.WRITE_ACK || type == SliceFrame.NOTIFY_ACK || type >= SliceFrame.HELLO)) {
            throw new MalformedFrameException("a CRC32C trailer on frame type " + type + " with status " + status());
        }
        if (bodyLength() < 0 || nameLength() > SliceFrame.MAX_NAME_BYTES) {
            throw new MalformedFrameException("negative body length or over-long name");
        }
        long expected = (long) SliceFrame.HEADER_BYTES + nameLength() + bodyBytes() + trailerBytes();
        if (expected != frameLength) {
            throw new MalformedFrameException("frame holds " + frameLength + " bytes, header says " + expected);
        }
        return this;
    }

    /** Bytes of body that follow the name: payload, error text, or none (a READ asks without carrying); a CRC32C trailer is not counted. */
    public long bodyBytes() {
        return carriesBody() ? bodyLength() : 0;
    }

    private int at(int field) {
        return frame.readerIndex() + field;
    }

    /** The frame type, without the {@link SliceFrame#CRC_TRAILER} flag. */
    public byte type() {
        return (byte) (frame.getByte(at(SliceFrame.TYPE)) & ~SliceFrame.CRC_TRAILER);
    }

    /**
     * Whether the frame has {@link SliceFrame#CRC_TRAILER}: a payload frame's CRC32C follows its
     * payload rather than sits in the header; a READ asks for its answer to be sent so.
     */
    public boolean crcTrailer() {
        return (frame.getByte(at(SliceFrame.TYPE)) & SliceFrame.CRC_TRAILER) != 0;
    }

    /** Bytes of CRC32C trailer after the body ({@link SliceFrame#trailerBytes}). */
    public int trailerBytes() {
        return SliceFrame.trailerBytes(frame.getByte(at(SliceFrame.TYPE)));
    }

    public long sliceId() {
        return frame.getLong(at(SliceFrame.SLICE_ID));
    }

    public long offset() {
        return frame.getLong(at(SliceFrame.OFFSET));
    }

    public int bodyLength() {
        return frame.getInt(at(SliceFrame.BODY_LENGTH));
    }

    public int crc() {
        return frame.getInt(at(SliceFrame.CRC));
    }

    public SliceFrame.Status status() {
        return SliceFrame.Status.of(frame.getUnsignedShort(at(SliceFrame.STATUS)));
    }

    public int nameLength() {
        return frame.getUnsignedShort(at(SliceFrame.NAME_LENGTH));
    }

    public String name() {
        return frame.toString(at(SliceFrame.HEADER_BYTES), nameLength(), StandardCharsets.UTF_8);
    }

    /** Whether the segment name is exactly {@code name} (UTF-8 bytes); allocates nothing. */
    public boolean nameEquals(byte[] name) {
        int n = nameLength();
        if (name == null || n != name.length) {
            return false;
        }
        int from = at(SliceFrame.HEADER_BYTES);
        for (int i = 0; i < n; i++) {
            if (frame.getByte(from + i) != name[i]) {
                return false;
            }
        }
        return true;
    }

    /** A copy of the segment name's UTF-8 bytes. */
    public byte[] nameBytes() {
        byte[] bytes = new byte[nameLength()];
        frame.getBytes(at(SliceFrame.HEADER_BYTES), bytes);
        return bytes;
    }

    private boolean carriesBody() {
        byte type = type();
        return type == SliceFrame.WRITE || type == SliceFrame.READ_DATA || type == SliceFrame.NOTIFY
                || status() != SliceFrame.Status.OK;
    }
}
