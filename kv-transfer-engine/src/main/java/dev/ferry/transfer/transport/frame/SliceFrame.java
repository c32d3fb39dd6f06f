package dev.ferry.transfer.transport.frame;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Layout of the data frames of the TCP and Aeron transports. All integers big-endian.
 *
 * <pre>
 * offset size field
 *  0     4    frame length: bytes after this field (header rest + name + body)
 *  4     2    magic 0x4659 ("FY")
 *  6     1    version (2: version 1 had no {@link #CRC_TRAILER}; a peer of either refuses the other's frames)
 *  7     1    type: 1 WRITE, 2 WRITE_ACK, 3 READ, 4 READ_DATA, 5 NOTIFY, 6 NOTIFY_ACK,
 *             7 HELLO, 8 FENCE, 9 FENCE_ACK (TCP only, no name, no body: see {@link #HELLO}),
 *             10 FENCE_SESSION, 11 FENCE_SESSION_ACK (Aeron sessions, sent over Aeron or TCP: see
 *             {@link #FENCE_SESSION});
 *             plus 0x80 ({@link #CRC_TRAILER}) on a payload frame whose CRC32C follows the payload,
 *             or on a READ whose answer is to carry it so
 *  8     8    slice id, chosen by the initiator, echoed in the answer
 * 16     8    target offset, bytes
 * 24     4    body length: payload bytes (WRITE, READ_DATA, NOTIFY), bytes asked for (READ),
 *             or the error text's length when status != 0
 * 28     4    CRC32C of the payload (WRITE, READ_DATA, NOTIFY) without {@link #CRC_TRAILER}, else 0
 * 32     2    status: 0 OK, else a {@link Status} code
 * 34     2    segment name length N (requests; for NOTIFY the segment the message is about), 0 in answers
 * 36     N    segment name, UTF-8
 * 36+N   ...  payload (WRITE, READ_DATA with OK) or UTF-8 error text (status != 0)
 * then   4    on a payload frame with {@link #CRC_TRAILER} only: CRC32C of the payload
 * </pre>
 *
 * <p>The TCP transport sends payloads queued behind others with the trailer: the sender
 * checksums each piece of the payload just after the kernel has copied it out
 * ({@code ChecksummedPayload}), so the source is read from memory once, and the CRC32C is
 * only known after the last piece. A slice sent on an idle TCP link, and every Aeron message,
 * carries the CRC32C in the header. The initiator, which alone knows whether a link is idle
 * (whether it awaits other answers on it), decides for READ answers too: it sets
 * {@link #CRC_TRAILER} on a READ sent behind others, and the target answers that READ with a
 * trailer, and a READ without the flag with the CRC32C in the header.
 *
 * Stateless helpers; thread-safe.
 */
public final class SliceFrame {
    public static final short MAGIC = 0x4659;
    /**
     * Version of this layout: 2 since the CRC32C trailer ({@link #CRC_TRAILER}); a frame of
     * another version is malformed, so that peers of two versions fail at once with a clear
     * error rather than on the first trailer.
     */
    public static final byte VERSION = 2;
    public static final byte WRITE = 1;
    public static final byte WRITE_ACK = 2;
    public static final byte READ = 3;
    public static final byte READ_DATA = 4;
    public static final byte NOTIFY = 5;
    public static final byte NOTIFY_ACK = 6;
    /**
     * First frame on a TCP connection, initiator to target: the offset field carries the
     * connection's token, 64 random bits that name it in a later {@link #FENCE}. A target
     * closes a connection whose token was fenced before its HELLO arrived.
     */
    public static final byte HELLO = 7;
    /**
     * Initiator to target on any live connection: the offset field carries the token of a
     * connection the initiator lost (stalled or closed) with WRITEs unanswered on it. The
     * target closes that connection if it still serves it, remembers the token as fenced if
     * it has not seen it, and answers {@link #FENCE_ACK} (same slice id) only once nothing
     * more read from that connection can reach its segments.
     */
    public static final byte FENCE = 8;
    /** Answer to a {@link #FENCE}: the fenced connection can no longer write. */
    public static final byte FENCE_ACK = 9;
    /**
     * Initiator to target, over Aeron or TCP: the offset field carries the id of an Aeron
     * session (one publication of the initiator) that the initiator lost with WRITEs unanswered
     * on it, the name field the reply endpoint that session's requests named. The target's Aeron
     * receiver drops every request of that session and reply endpoint from then on (the message
     * in progress included), remembers it should the session's first bytes still be on their
     * way, and answers {@link #FENCE_SESSION_ACK} (same slice id) once it does. No body.
     */
    public static final byte FENCE_SESSION = 10;
    /** Answer to a {@link #FENCE_SESSION}: nothing more of the fenced session can reach a segment. */
    public static final byte FENCE_SESSION_ACK = 11;
    /**
     * Flag on the type byte. On a payload frame (WRITE, READ_DATA, NOTIFY): its CRC32C is the 4
     * bytes after the payload, the header's field is 0. On a READ, which carries no payload: the
     * READ_DATA answer is to be sent so.
     */
    public static final byte CRC_TRAILER = (byte) 0x80;
    /** Bytes of the CRC32C trailer. */
    public static final int TRAILER_BYTES = 4;

    /**
     * Bytes of CRC32C trailer that a frame of this type byte carries after its body:
     * {@link #TRAILER_BYTES} on a payload frame with {@link #CRC_TRAILER}, 0 otherwise (a READ
     * with the flag asks for a trailer on its answer and carries none itself).
     */
    public static int trailerBytes(byte type) {
        return (type & CRC_TRAILER) != 0 && (type & ~CRC_TRAILER) != READ ? TRAILER_BYTES : 0;
    }
    /** Header bytes after the length field, before the name. */
    public static final int HEADER_BYTES = 32;
    /** Longest segment name, bytes. */
    public static final int MAX_NAME_BYTES = 1024;
    /** Largest notification message, bytes (64 KiB). */
    public static final int MAX_NOTIFICATION_BYTES = 64 * 1024;
    /** Largest frame after the length field: header, name and a 16 MiB payload. */
    public static final int MAX_FRAME_BYTES = HEADER_BYTES + MAX_NAME_BYTES + 16 * 1024 * 1024;

    public static final int TYPE = 3;
    public static final int SLICE_ID = 4;
    public static final int OFFSET = 12;
    public static final int BODY_LENGTH = 20;
    public static final int CRC = 24;
    public static final int STATUS = 28;
    public static final int NAME_LENGTH = 30;

    /** Status codes of answers. */
    public enum Status {
        OK(0, false), UNKNOWN_SEGMENT(1, false), OUT_OF_BOUNDS(2, false), CRC_MISMATCH(3, true),
        MALFORMED(4, false), INTERNAL(5, true);

        final int code;
        final boolean retryable;

        /** Whether the initiator may resend the slice after this answer. */
        public boolean retryable() {
            return retryable;
        }

        Status(int code, boolean retryable) {
            this.code = code;
            this.retryable = retryable;
        }

        public static Status of(int code) {
            for (Status s : values()) {
                if (s.code == code) {
                    return s;
                }
            }
            return INTERNAL;
        }
    }

    private SliceFrame() {
    }

    /**
     * Writes the length field and header of a frame into a new buffer. The caller writes
     * the body ({@code bodyLength} bytes) after it, as a separate buffer or in place.
     */
    public static ByteBuf header(ByteBufAllocator alloc, byte type, long sliceId, long offset, int bodyLength, int crc,
                          Status status, byte[] name) {
        int nameLength = name == null ? 0 : name.length;
        return writeHeader(alloc.directBuffer(4 + HEADER_BYTES + nameLength), type, sliceId, offset, bodyLength, crc,
                status, name);
    }

    /**
     * Writes the length field and header of a frame at {@code buf}'s writer index, as
     * {@link #header} does, into a buffer the caller reuses.
     *
     * @return {@code buf}
     */
    public static ByteBuf writeHeader(ByteBuf buf, byte type, long sliceId, long offset, int bodyLength, int crc,
                                      Status status, byte[] name) {
        int nameLength = name == null ? 0 : name.length;
        int carried = (type & ~CRC_TRAILER) == READ ? 0 : bodyLength; // a READ asks for bodyLength bytes, carries none
        carried += trailerBytes(type);
        buf.writeInt(HEADER_BYTES + nameLength + carried);
        buf.writeShort(MAGIC).writeByte(VERSION).writeByte(type);
        buf.writeLong(sliceId).writeLong(offset).writeInt(bodyLength).writeInt(crc);
        buf.writeShort(status.code).writeShort(nameLength);
        if (nameLength > 0) {
            buf.writeBytes(name);
        }
        return buf;
    }

    /** A complete error answer to a request of {@code type} with the given text. */
    public static ByteBuf error(ByteBufAllocator alloc, byte requestType, long sliceId, long offset, Status status,
                         String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        byte answer = requestType == READ ? READ_DATA : requestType == NOTIFY ? NOTIFY_ACK : WRITE_ACK;
        ByteBuf buf = header(alloc, answer, sliceId, offset, bytes.length, 0, status, null);
        return buf.writeBytes(bytes);
    }

    /** Segment name bytes for a request frame. */
    public static byte[] name(String segment) {
        byte[] bytes = segment.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("segment name longer than " + MAX_NAME_BYTES + " bytes");
        }
        return bytes;
    }

    /** CRC32C of a whole byte buffer (its position is left unchanged). */
    public static int crc(CRC32C crc, ByteBuffer bytes) {
        crc.reset();
        crc.update(bytes.duplicate());
        return (int) crc.getValue();
    }
}
