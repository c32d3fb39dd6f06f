package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.MalformedFrameException;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Reads slice frames ({@link SliceFrame}) off a connection and streams each payload
 * straight into its destination memory as the bytes arrive, with no frame assembled in
 * between. On the epoll transport ({@link IoBackend#readsIntoPlace()}), once a frame's
 * header is in, the rest of its payload is read from the socket directly into the
 * destination (native memory) and checksummed while it is still in cache: the kernel's copy
 * is the only one, as with a raw socket read. Bytes
 * that Netty has already read into its own buffer, and every payload on other transports, are
 * checksummed and copied chunk by chunk.
 * The subclass names the destination once the header is in ({@link #onHeader}) and judges
 * the frame once its body is ({@link #onFrame}); the destination thus holds the payload
 * before its CRC32C is known, so a destination must be memory that nobody reads until the
 * frame is accepted (an uncommitted allocation, or the buffer of a pending READ).
 *
 * <p>A frame whose header is malformed is reported to {@link #onMalformed} and the
 * connection is closed: the byte stream cannot be trusted past it.
 *
 * <p>One instance per connection, on its event loop; not thread-safe.
 */
abstract class SliceFrameReader extends ChannelInboundHandlerAdapter {
    private static final int MAX_TEXT = 64 * 1024;
    /** Most bytes read from the socket in one call, so that each is checksummed while in cache (256 KiB). */
    private static final int MAX_DIRECT_READ = 256 * 1024;

    private final FrameHeader header = new FrameHeader();
    private final CRC32C crc = new CRC32C();
    private ByteBuf head;
    private long frameLength = -1;
    private long bodyLeft;
    /** Bytes of the CRC32C trailer still to come; they gather in {@link #trailer}. */
    private int trailerLeft;
    private int trailer;
    private MemorySegment destination;
    private long written;
    /** The socket, on the epoll transport; null elsewhere. */
    private FileDescriptor socket;
    /** The destination as a buffer, for direct reads into native memory; null when a frame is not read directly. */
    private ByteBuffer direct;
    private ByteBuf text;
    private boolean closed;

    /** The header (and name) of a frame is in. Returns where its payload goes, or null to discard it. */
    abstract MemorySegment onHeader(ChannelHandlerContext ctx, FrameHeader header);

    /**
     * The whole frame is in.
     *
     * @param payloadCrc CRC32C of the payload as received (0 without one)
     * @param errorText  the error text of an answer whose status is not OK, else null
     */
    abstract void onFrame(ChannelHandlerContext ctx, FrameHeader header, int payloadCrc, String errorText);

    /** A malformed frame; the connection is closed after this returns. */
    abstract void onMalformed(ChannelHandlerContext ctx, long sliceId, String why);

    /** A read of a payload straight from the socket failed; the connection is closed after this returns. */
    void onReadFailed(ChannelHandlerContext ctx, IOException cause) {
    }

    /**
     * Closes the connection and reads nothing more from it, not even the rest of the bytes
     * already read: what follows in them must not be acted on.
     */
    void closeNow(ChannelHandlerContext ctx) {
        closed = true;
        ctx.close();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        head = ctx.alloc().directBuffer(4 + SliceFrame.HEADER_BYTES + SliceFrame.MAX_NAME_BYTES);
        // Over TLS the socket holds ciphertext: the payload comes decrypted through the pipeline.
        if (IoBackend.readsIntoPlace(ctx.channel()) && ctx.channel() instanceof UnixChannel unix
                && ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class) == null) {
            socket = unix.fd();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        release();
    }

    private void release() {
        if (head != null) {
            head.release();
            head = null;
        }
        if (text != null) {
            text.release();
            text = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        try {
            while (!closed) {
                if (in.isReadable()) {
                    if (bodyLeft > 0) {
                        consumeBody(in);
                    } else if (trailerLeft > 0) {
                        readTrailer(in);
                    } else {
                        readHeader(ctx, in);
                    }
                } else if (bodyLeft == 0 || direct == null || !readDirect(ctx)) {
                    break; // the rest comes with the next read
                }
                if (frameLength >= 0 && bodyLeft == 0 && trailerLeft == 0 && !closed
                        && head.readableBytes() >= headBytes()) {
                    finishFrame(ctx);
                }
            }
        } catch (MalformedFrameException e) {
            long sliceId = head.readableBytes() >= 4 + 12 ? head.getLong(head.readerIndex() + 4 + 4) : -1;
            closed = true;
            onMalformed(ctx, sliceId, e.getMessage());
        } finally {
            in.release();
        }
    }

    /**
     * Reads the next part of the payload from the socket straight into the destination.
     *
     * @return whether bytes arrived; false when the socket has none now (the event loop calls
     *         again when it has), is at its end, or failed (the connection is then closed)
     */
    private boolean readDirect(ChannelHandlerContext ctx) {
        if (!destination.scope().isAlive()) {
            // Its memory was freed (a request given up on, a segment closed): the rest is read and dropped.
            destination = null;
            direct = null;
            return true;
        }
        int from = (int) written;
        int n;
        try {
            n = socket.readAddress(destination.address(), from, from + (int) Math.min(bodyLeft, MAX_DIRECT_READ));
        } catch (IOException e) {
            closed = true;
            onReadFailed(ctx, e);
            ctx.close();
            return false;
        }
        if (n <= 0) {
            return false; // 0: nothing to read now; -1: end of stream, which the event loop's next read reports
        }
        crc.update(direct.limit(from + n).position(from));
        written += n;
        bodyLeft -= n;
        return true;
    }

    /** Bytes of the length field, fixed header and name. */
    private int headBytes() {
        return 4 + SliceFrame.HEADER_BYTES + header.nameLength();
    }

    private void readHeader(ChannelHandlerContext ctx, ByteBuf in) {
        int want = 4 + SliceFrame.HEADER_BYTES;
        if (head.readableBytes() >= want) {
            want = 4 + SliceFrame.HEADER_BYTES + head.getUnsignedShort(head.readerIndex() + 4 + SliceFrame.NAME_LENGTH);
        }
        int take = Math.min(in.readableBytes(), want - head.readableBytes());
        head.writeBytes(in, take);
        if (head.readableBytes() < 4 + SliceFrame.HEADER_BYTES) {
            return;
        }
        int nameLength = head.getUnsignedShort(head.readerIndex() + 4 + SliceFrame.NAME_LENGTH);
        if (nameLength > SliceFrame.MAX_NAME_BYTES) {
            throw new MalformedFrameException("segment name of " + nameLength + " bytes");
        }
        if (head.readableBytes() < 4 + SliceFrame.HEADER_BYTES + nameLength) {
            return; // the name is still coming
        }
        frameLength = head.getUnsignedInt(head.readerIndex());
        if (frameLength > SliceFrame.MAX_FRAME_BYTES) {
            throw new MalformedFrameException("frame of " + frameLength + " bytes exceeds " + SliceFrame.MAX_FRAME_BYTES);
        }
        header.wrap(head.slice(head.readerIndex() + 4, head.readableBytes() - 4), frameLength);
        bodyLeft = header.bodyBytes();
        trailerLeft = header.trailerBytes();
        trailer = 0;
        crc.reset();
        written = 0;
        if (header.status() != SliceFrame.Status.OK) {
            destination = null;
            direct = null;
            text = ctx.alloc().heapBuffer((int) Math.min(bodyLeft, MAX_TEXT));
        } else {
            destination = onHeader(ctx, header);
            if (bodyLeft == 0) {
                destination = null;
            }
            direct = destination != null && socket != null && destination.isNative() ? destination.asByteBuffer() : null;
        }
    }

    private void consumeBody(ByteBuf in) {
        int n = (int) Math.min(bodyLeft, in.readableBytes());
        if (text != null) {
            text.writeBytes(in, in.readerIndex(), Math.min(n, text.writableBytes()));
        } else if (destination != null) {
            int index = in.readerIndex();
            if (in.nioBufferCount() == 1) {
                copy(in.nioBuffer(index, n));
            } else {
                for (ByteBuffer part : in.nioBuffers(index, n)) {
                    copy(part);
                }
            }
        }
        in.skipBytes(n);
        bodyLeft -= n;
    }

    /** Gathers the big-endian CRC32C trailer, which may arrive split across reads. */
    private void readTrailer(ByteBuf in) {
        while (trailerLeft > 0 && in.isReadable()) {
            trailer = trailer << 8 | in.readUnsignedByte();
            trailerLeft--;
        }
        if (trailerLeft == 0) {
            head.setInt(head.readerIndex() + 4 + SliceFrame.CRC, trailer); // so that the header reports it
        }
    }

    private void copy(ByteBuffer part) {
        int n = part.remaining();
        crc.update(part.duplicate());
        MemorySegment.copy(MemorySegment.ofBuffer(part), 0, destination, written, n);
        written += n;
    }

    private void finishFrame(ChannelHandlerContext ctx) {
        String errorText = text == null ? null : text.toString(StandardCharsets.UTF_8);
        if (text != null) {
            text.release();
            text = null;
        }
        int payloadCrc = destination == null ? 0 : (int) crc.getValue();
        destination = null;
        direct = null;
        frameLength = -1;
        try {
            onFrame(ctx, header, payloadCrc, errorText);
        } finally {
            head.clear();
        }
    }
}
