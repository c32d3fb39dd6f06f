package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;

import dev.ferry.store.client.DirectStoreClient;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.DomainSocketReadMode;
import io.netty.channel.unix.FileDescriptor;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * One client connection: answers HELLO (version and, for TCP when the sidecar has a token,
 * the token) on the event loop, refuses everything before it, and runs the other requests
 * on the request executor, at most {@code maxInFlight} at a time: beyond that, frames wait
 * here and the socket is not read (back pressure), so a client cannot make the sidecar
 * buffer without bound. A GET that the lease cache can serve without blocking is answered
 * on the event loop at once ({@link SidecarOps#getCached}). When the connection closes and
 * its last request has finished, its session is closed: its buffers are unmapped and its
 * uncommitted puts aborted.
 *
 * <p>Not shareable: one instance per channel; its state is touched on the event loop only.
 */
final class ConnectionHandler extends ChannelInboundHandlerAdapter {
    /**
     * Most bytes a GET served on the event loop may copy (256 KiB: some 20 to 40 us at the
     * memory bandwidth of a loaded host), so that the other connections of the loop wait little.
     */
    static final long EVENT_LOOP_GET_BYTES = 256 * 1024;
    /** Most keys of a GET served on the event loop. */
    static final int EVENT_LOOP_GET_KEYS = 16;

    private final SidecarServer server;
    private final DirectStoreClient.CachedRead cachedRead = new DirectStoreClient.CachedRead(EVENT_LOOP_GET_KEYS);
    private final Executor executor;
    private final ArrayDeque<Request> waiting = new ArrayDeque<>();
    private ClientSession session;
    private ClientSession.Held held;
    private boolean tcp;
    private int inFlight;
    private boolean inactive;
    /** A REGISTER_MEMFD was answered "ready": the next message is its file descriptor. */
    private boolean awaitingFd;
    private long memfdRequestId;
    private long memfdBytes;

    ConnectionHandler(SidecarServer server, Executor executor) {
        this.server = server;
        this.executor = executor;
    }

    private record Request(ByteBuf frame, int opcode, long id) {
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        tcp = ctx.channel().remoteAddress() instanceof InetSocketAddress;
        boolean local = !tcp || ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().isLoopbackAddress();
        session = server.openSession(local);
        held = new ClientSession.Held(session);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof FileDescriptor fd) {
            receiveMemfd(ctx, fd);
            return;
        }
        ByteBuf frame = (ByteBuf) msg;
        if (frame.readableBytes() < HEADER_BYTES) {
            int length = frame.readableBytes() - 4;
            frame.release();
            server.metrics().malformedFrame();
            refuse(ctx, 0, 0, MALFORMED, "frame of " + length + " bytes after the length "
                    + "field is shorter than the 12-byte header rest", false);
            return;
        }
        frame.skipBytes(4);
        int opcode = frame.readUnsignedShortLE();
        frame.skipBytes(2);
        long id = frame.readLongLE();
        if (server.draining()) {
            frame.release();
            refuse(ctx, opcode, id, SHUTTING_DOWN, "the sidecar is shutting down", false);
        } else if (opcode == HELLO) {
            try {
                hello(ctx, frame, id);
            } finally {
                frame.release();
            }
        } else if (!session.greeted()) {
            frame.release();
            refuse(ctx, opcode, id, HELLO_REQUIRED, "send HELLO first", false);
        } else if (opcode == REGISTER_MEMFD) {
            try {
                memfd(ctx, frame, id);
            } finally {
                frame.release();
            }
        } else if (opcode == GET && getCached(ctx, frame, id)) {
            frame.release(); // answered here, on the event loop
        } else {
            dispatch(ctx, new Request(frame, opcode, id));
        }
    }

    /**
     * Answers a GET on the event loop when the lease cache can serve it without blocking
     * (one hand-off to a request thread and one back saved); false leaves the frame, its
     * reader index where it was, for the request executor.
     */
    private boolean getCached(ChannelHandlerContext ctx, ByteBuf frame, long id) {
        long start = System.nanoTime();
        int body = frame.readerIndex();
        ByteBuf answer = SidecarFrames.start(ctx.alloc(), GET, id, 4 + 8 * 4);
        if (!server.ops().getCached(session, frame, answer, cachedRead, held, EVENT_LOOP_GET_BYTES)) {
            answer.release();
            frame.readerIndex(body);
            return false;
        }
        ctx.writeAndFlush(SidecarFrames.finish(answer));
        server.metrics().request(GET, OK, System.nanoTime() - start);
        return true;
    }

    private void hello(ChannelHandlerContext ctx, ByteBuf body, long id) {
        if (body.readableBytes() < 6) {
            refuse(ctx, HELLO, id, MALFORMED, "HELLO body is min version u16, max version u16, token length u16, "
                    + "token", false);
            return;
        }
        int min = body.readUnsignedShortLE();
        int max = body.readUnsignedShortLE();
        int tokenLength = body.readUnsignedShortLE();
        if (body.readableBytes() != tokenLength) {
            refuse(ctx, HELLO, id, MALFORMED, "HELLO announces a token of " + tokenLength + " bytes, carries "
                    + body.readableBytes(), false);
            return;
        }
        byte[] token = new byte[tokenLength];
        body.readBytes(token);
        if (tcp && server.token() != null && !MessageDigest.isEqual(token,
                server.token().getBytes(StandardCharsets.UTF_8))) {
            refuse(ctx, HELLO, id, UNAUTHORIZED, "wrong or missing token", true);
            return;
        }
        if (VERSION < min || VERSION > max) {
            refuse(ctx, HELLO, id, UNSUPPORTED_VERSION, "this sidecar speaks version " + VERSION + " only, the "
                    + "client asked for " + min + ".." + max, false);
            return;
        }
        session.greet();
        ByteBuf out = SidecarFrames.start(ctx.alloc(), HELLO, id, 28);
        out.writeShortLE(VERSION).writeShortLE(session.local() ? 1 : 0).writeIntLE(server.maxFrameBytes())
                .writeIntLE(server.maxInFlight()).writeIntLE(0).writeLongLE(server.quotaBytes())
                .writeLongLE(session.id());
        ctx.writeAndFlush(SidecarFrames.finish(out));
        server.metrics().request(HELLO, OK, 0);
    }

    /**
     * REGISTER_MEMFD, first step: checks the announced size, switches the socket to reading
     * file descriptors and answers "ready"; the client then sends its memfd (SCM_RIGHTS).
     */
    private void memfd(ChannelHandlerContext ctx, ByteBuf body, long id) {
        if (!(ctx.channel() instanceof EpollDomainSocketChannel ch)) {
            refuse(ctx, REGISTER_MEMFD, id, NOT_LOCAL, "memfd buffers need the sidecar's Unix socket served with "
                    + "epoll; register a file of the buffer directory instead", false);
            return;
        }
        if (body.readableBytes() != 8) {
            refuse(ctx, REGISTER_MEMFD, id, MALFORMED, "REGISTER_MEMFD body is the buffer size, u64", false);
            return;
        }
        long bytes = body.readLongLE();
        try {
            session.checkQuota(bytes);
        } catch (SidecarException e) {
            refuse(ctx, REGISTER_MEMFD, id, e.status(), e.reason(), false);
            return;
        }
        awaitingFd = true;
        memfdRequestId = id;
        memfdBytes = bytes;
        ch.config().setReadMode(DomainSocketReadMode.FILE_DESCRIPTORS);
        ctx.writeAndFlush(SidecarFrames.finish(SidecarFrames.start(ctx.alloc(), REGISTER_MEMFD, id, 0)));
    }

    /** REGISTER_MEMFD, second step: maps the received memfd and answers its buffer id. */
    private void receiveMemfd(ChannelHandlerContext ctx, FileDescriptor fd) {
        ((EpollDomainSocketChannel) ctx.channel()).config().setReadMode(DomainSocketReadMode.BYTES);
        try {
            if (!awaitingFd) {
                return; // not asked for: closing it is all
            }
            awaitingFd = false;
            SharedBuffer buffer = server.ops().registerMemfd(session, fd.intValue(), memfdBytes);
            ByteBuf out = SidecarFrames.start(ctx.alloc(), REGISTER_MEMFD, memfdRequestId, 4);
            out.writeIntLE(buffer.id());
            ctx.writeAndFlush(SidecarFrames.finish(out));
            server.metrics().request(REGISTER_MEMFD, OK, 0);
        } catch (RuntimeException e) {
            refuse(ctx, REGISTER_MEMFD, memfdRequestId, SidecarOps.status(e),
                    e instanceof SidecarException s ? s.reason() : String.valueOf(e.getMessage()), false);
        } finally {
            try {
                fd.close(); // the mapping stays valid
            } catch (java.io.IOException ignored) {
                // nothing to do
            }
        }
    }

    private void dispatch(ChannelHandlerContext ctx, Request request) {
        if (inFlight >= server.maxInFlight()) {
            waiting.addLast(request);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        inFlight++;
        server.requestStarted();
        try {
            ClientSession owner = session;
            executor.execute(() -> run(ctx, owner, request));
        } catch (RejectedExecutionException e) {
            request.frame().release();
            refuse(ctx, request.opcode(), request.id(), SHUTTING_DOWN, "the sidecar is shutting down", false);
            done(ctx);
        }
    }

    private void run(ChannelHandlerContext ctx, ClientSession owner, Request request) {
        long start = System.nanoTime();
        int status = OK;
        ByteBuf answer = SidecarFrames.start(ctx.alloc(), request.opcode(), request.id(), 64);
        try {
            server.ops().serve(owner, request.opcode(), request.frame(), answer);
            SidecarFrames.finish(answer);
        } catch (Throwable e) {
            answer.release();
            status = SidecarOps.status(e);
            String message = e instanceof SidecarException s ? s.reason() : String.valueOf(e.getMessage());
            answer = SidecarFrames.error(ctx.alloc(), request.opcode(), request.id(), status, message);
        } finally {
            request.frame().release();
            server.metrics().request(request.opcode(), status, System.nanoTime() - start);
        }
        ByteBuf reply = answer;
        try {
            // One hop to the event loop for both the write and the bookkeeping.
            ctx.executor().execute(() -> {
                ctx.writeAndFlush(reply);
                done(ctx);
            });
        } catch (RejectedExecutionException e) {
            reply.release();
            server.requestEnded(); // the event loop is gone (shutdown past the drain time)
        }
    }

    /** On the event loop: one request finished; start waiting ones, read again when none wait. */
    private void done(ChannelHandlerContext ctx) {
        inFlight--;
        server.requestEnded();
        while (inFlight < server.maxInFlight() && !waiting.isEmpty()) {
            dispatch(ctx, waiting.pollFirst());
        }
        if (waiting.isEmpty() && ctx.channel().isActive()) {
            ctx.channel().config().setAutoRead(true);
        }
        if (inactive && inFlight == 0) {
            closeSession();
        }
    }

    /** Answers a request refused before it ran, and counts it. */
    private void refuse(ChannelHandlerContext ctx, int opcode, long id, int status, String message, boolean close) {
        server.metrics().request(opcode, status, 0);
        answerError(ctx, opcode, id, status, message, close);
    }

    private void answerError(ChannelHandlerContext ctx, int opcode, long id, int status, String message, boolean close) {
        var future = ctx.writeAndFlush(SidecarFrames.error(ctx.alloc(), opcode, id, status, message));
        if (close) {
            future.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof TooLongFrameException) {
            server.metrics().malformedFrame();
            refuse(ctx, 0, 0, FRAME_TOO_LARGE, "frame longer than " + server.maxFrameBytes() + " bytes", true);
        } else if (cause instanceof CorruptedFrameException || cause instanceof DecoderException) {
            server.metrics().malformedFrame();
            refuse(ctx, 0, 0, MALFORMED, "corrupt frame: " + cause.getMessage(), true);
        } else {
            ctx.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Request r;
        while ((r = waiting.pollFirst()) != null) {
            r.frame().release();
        }
        inactive = true;
        if (inFlight == 0) {
            closeSession();
        }
        ctx.fireChannelInactive();
    }

    /**
     * Closes the session once the connection is gone and none of its requests runs any
     * more: aborting a pending block while a WRITE_RANGE still writes into it would free
     * space that the late write could then corrupt.
     */
    private void closeSession() {
        if (session != null) {
            server.closeSession(session);
            session = null;
        }
    }
}
