package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.transport.frame.SliceFrame;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.stream.ChunkedInput;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * One payload frame sent with its CRC32C as a trailer ({@link SliceFrame#CRC_TRAILER}): the
 * header, then the payload in pieces of {@link #PIECE_BYTES}, then the CRC32C. Netty's
 * {@link ChunkedWriteHandler} pulls the pieces as the connection drains; each piece is
 * checksummed just after the kernel has copied it out, while it is in cache, so that the
 * source is read from memory once, as a raw socket write reads it, instead of once for the
 * checksum and again for the copy. Bytes changed while they are sent can only fail the
 * check at the receiver, never pass it with other bytes than those sent.
 *
 * <p>Read by one connection's event loop; not thread-safe.
 */
final class ChecksummedPayload implements ChunkedInput<ByteBuf> {
    /**
     * Bytes per piece (512 KiB): the L2 cache of one core on the development machine (AMD EPYC),
     * which the kernel's copy of a piece leaves it in for the checksum. 256 KiB pieces cost more
     * CPU per byte (more, smaller writes), 1 MiB pieces outgrow the cache (docs/benchmarks-log.md).
     */
    static final int PIECE_BYTES = 512 * 1024;

    /**
     * Largest payload always sent in one write with its CRC32C in the header, even behind
     * others (64 KiB): at this size the frame's fixed costs (a chunked input, a write and a
     * flush for the payload and another for its 4-byte trailer) outweigh what checksumming
     * while the kernel copies saves, and the payload is read into cache by the checksum just
     * before the kernel's copy reads it again.
     */
    static final int ONE_WRITE_BYTES = 64 * 1024;

    private final CRC32C crc = new CRC32C();
    private final ByteBuffer payload;
    private final long length;
    private ByteBuf header;
    private long progress;
    /** The piece handed over by the latest call, not yet checksummed. */
    private ByteBuffer handedOver;
    private boolean done;

    /**
     * @param header  the frame's length field and header, with {@link SliceFrame#CRC_TRAILER}
     *                set; released once sent, or when this input is closed unsent
     * @param payload the payload, from its position to its limit; not changed
     */
    ChecksummedPayload(ByteBuf header, ByteBuffer payload) {
        this.header = header;
        this.payload = payload.slice();
        this.length = header.readableBytes() + (long) payload.remaining() + SliceFrame.TRAILER_BYTES;
    }

    /**
     * Whether a payload leaves in one write with its CRC32C in the header ({@link #frame} with
     * {@code whole}): when sent {@code alone}, or when at most {@link #ONE_WRITE_BYTES}.
     */
    static boolean inOneWrite(boolean alone, long length) {
        return alone || length <= ONE_WRITE_BYTES;
    }

    /**
     * The frame that carries a payload, by the rule both ends of a connection follow
     * ({@link #inOneWrite}): a payload sent alone (the initiator awaits no other answer on the
     * connection), or a small one, has its CRC32C in the header and leaves {@code whole} in one
     * write, for the lowest latency (one write, one wake-up of the receiver); a larger payload
     * queued behind others is a {@link ChecksummedPayload}, for the least CPU. The initiator
     * decides, for its WRITEs and for the answers to its READs (it sets
     * {@link SliceFrame#CRC_TRAILER} on a READ sent behind others).
     *
     * @param type      WRITE, NOTIFY or READ_DATA, without {@link SliceFrame#CRC_TRAILER}
     * @param name      the segment name (requests), or null (answers)
     * @param whole     whether the payload leaves in one write with its CRC32C in the header
     * @param headerCrc the payload's CRC32C when {@code whole}; ignored otherwise
     * @return a {@link ByteBuf} or a {@link ChecksummedPayload}, for Netty to write
     */
    static Object frame(ByteBufAllocator alloc, byte type, long sliceId, long offset, byte[] name, ByteBuffer payload,
                        boolean whole, int headerCrc) {
        int length = payload.remaining();
        if (whole) {
            ByteBuf header = SliceFrame.header(alloc, type, sliceId, offset, length, headerCrc, SliceFrame.Status.OK,
                    name);
            return Unpooled.wrappedBuffer(header, Unpooled.wrappedBuffer(payload));
        }
        return new ChecksummedPayload(SliceFrame.header(alloc, (byte) (type | SliceFrame.CRC_TRAILER), sliceId, offset,
                length, 0, SliceFrame.Status.OK, name), payload);
    }

    @Override
    public boolean isEndOfInput() {
        return done;
    }

    @Override
    public ByteBuf readChunk(ChannelHandlerContext ctx) {
        return readChunk(ctx.alloc());
    }

    /**
     * The next chunk: the header with the first piece, then a piece per call, then the trailer.
     * Each piece is checksummed on the call after the one that handed it over, by when the
     * kernel has most often copied it out and so left it in cache: the checksum then runs at
     * the speed of cache rather than of memory (16 vs 5.5 GB/s on the development machine,
     * {@code ChecksumBenchmark}). Returns null once the trailer has been read.
     */
    @Override
    public ByteBuf readChunk(ByteBufAllocator alloc) {
        if (done) {
            return null;
        }
        if (handedOver != null) {
            crc.update(handedOver);
            handedOver = null;
        }
        ByteBuf out;
        if (header == null && !payload.hasRemaining()) {
            done = true;
            out = alloc.directBuffer(SliceFrame.TRAILER_BYTES).writeInt((int) crc.getValue());
        } else {
            int at = payload.position();
            int n = Math.min(PIECE_BYTES, payload.remaining());
            handedOver = payload.slice(at, n);
            payload.position(at + n);
            out = Unpooled.wrappedBuffer(payload.slice(at, n));
            if (header != null) {
                out = Unpooled.wrappedBuffer(header, out);
                header = null;
            }
        }
        progress += out.readableBytes();
        return out;
    }

    @Override
    public void close() {
        if (header != null) {
            header.release();
            header = null;
        }
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public long progress() {
        return progress;
    }
}
