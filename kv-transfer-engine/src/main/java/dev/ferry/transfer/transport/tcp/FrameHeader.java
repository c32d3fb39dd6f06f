package dev.ferry.transfer.transport.tcp;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * A flyweight over the header of one received frame (the buffer after the length field).
 * Reused per connection; not thread-safe.
 */
final class FrameHeader {
    private ByteBuf frame;

    /**
     * Points at {@code frame} and validates its header.
     *
     * @throws MalformedFrameException if the frame is too short, has a bad magic, version,
     *                                 type or lengths that do not add up
     */
    FrameHeader wrap(ByteBuf frame) {
        this.frame = frame;
        int readable = frame.readableBytes();
        if (readable < SliceFrame.HEADER_BYTES) {
            throw new MalformedFrameException("frame of " + readable + " bytes is shorter than the "
                    + SliceFrame.HEADER_BYTES + "-byte header");
        }
        short magic = frame.getShort(frame.readerIndex());
        if (magic != SliceFrame.MAGIC) {
            throw new MalformedFrameException(String.format("bad magic 0x%04x", magic));
        }
        byte version = frame.getByte(frame.readerIndex() + 2);
        if (version != SliceFrame.VERSION) {
            throw new MalformedFrameException("unsupported frame version " + version);
        }
        byte type = type();
        if (type < SliceFrame.WRITE || type > SliceFrame.READ_DATA) {
            throw new MalformedFrameException("unknown frame type " + type);
        }
        if (bodyLength() < 0 || nameLength() > SliceFrame.MAX_NAME_BYTES) {
            throw new MalformedFrameException("negative body length or over-long name");
        }
        long expected = (long) SliceFrame.HEADER_BYTES + nameLength() + (carriesBody() ? bodyLength() : 0);
        if (expected != readable) {
            throw new MalformedFrameException("frame holds " + readable + " bytes, header says " + expected);
        }
        return this;
    }

    private int at(int field) {
        return frame.readerIndex() + field;
    }

    byte type() {
        return frame.getByte(at(SliceFrame.TYPE));
    }

    long sliceId() {
        return frame.getLong(at(SliceFrame.SLICE_ID));
    }

    long offset() {
        return frame.getLong(at(SliceFrame.OFFSET));
    }

    int bodyLength() {
        return frame.getInt(at(SliceFrame.BODY_LENGTH));
    }

    int crc() {
        return frame.getInt(at(SliceFrame.CRC));
    }

    SliceFrame.Status status() {
        return SliceFrame.Status.of(frame.getUnsignedShort(at(SliceFrame.STATUS)));
    }

    int nameLength() {
        return frame.getUnsignedShort(at(SliceFrame.NAME_LENGTH));
    }

    String name() {
        return frame.toString(at(SliceFrame.HEADER_BYTES), nameLength(), StandardCharsets.UTF_8);
    }

    /** Index of the body (payload or error text) in the frame buffer. */
    int bodyIndex() {
        return at(SliceFrame.HEADER_BYTES) + nameLength();
    }

    /** Error text of an answer whose status is not OK. */
    String errorText() {
        return frame.toString(bodyIndex(), bodyLength(), StandardCharsets.UTF_8);
    }

    private boolean carriesBody() {
        byte type = type();
        return type == SliceFrame.WRITE || type == SliceFrame.READ_DATA || status() != SliceFrame.Status.OK;
    }
}
