package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.transport.frame.SliceFrame;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * A payload frame that leaves whole with its CRC32C in the header, the checksum taken on the
 * connection's event loop just before the frame is written ({@link #checksummed}): on the
 * core whose kernel copy reads the payload next, so that copy finds it in cache, rather than
 * on the submitting thread, which would read it from memory for the checksum and leave the
 * copy to read it again.
 *
 * <p>Handed from a submitting thread to one event loop ({@link Outbox}); not thread-safe.
 */
final class WholeFrame {
    private final ByteBuf header;
    private final ByteBuffer payload;

    /**
     * @param header  the frame's length field and header, its CRC32C field still to fill; released
     *                with the frame written, or by {@link #release}
     * @param payload the payload, from its position to its limit; not changed
     */
    WholeFrame(ByteBuf header, ByteBuffer payload) {
        this.header = header;
        this.payload = payload.slice();
    }

    /** The frame to write: the header with the payload's CRC32C (taken with {@code crc}), then the payload. */
    ByteBuf checksummed(CRC32C crc) {
        header.setInt(header.readerIndex() + 4 + SliceFrame.CRC, SliceFrame.crc(crc, payload));
        return Unpooled.wrappedBuffer(header, Unpooled.wrappedBuffer(payload));
    }

    /** Releases the header of a frame that will not be written. */
    void release() {
        header.release();
    }
}
