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
import io.netty.channel.unix.PeerCredentials;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * One client connection: answers HELLO (version and, for TCP when the sidecar has a token,
 * the token; one per connection) on the event loop, refuses everything before it, and runs
 * the other requests on the request executor, at most {@code maxInFlight} at a time and
 * within the connection's byte budget ({@link SidecarServer#connectionBytes()}: request
 * frames held, the bound of each running GET_INLINE answer, answers the socket has not
 * taken): beyond either, frames wait here and the socket is not read (back pressure), so
 * a client that pipelines, or does not read its answers, cannot make the sidecar buffer
 * without bound. Only a peer on the Unix socket whose user is the sidecar's
 * ({@code SO_PEERCRED}) may share memory. A frame left half received, or a memfd announced
 * and not passed, for the frame timeout closes the connection with the reason
 * (request id 0). A GET (or GET_NAMED) that the lease cache can serve without blocking is
 * answered on the event loop at once ({@link SidecarOps#getCached}). When the connection closes and
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
    private final SidecarFrames.Decoder decoder;
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
    /**
     * Bytes this connection holds besides its unsent answers: request frames read and not
     * finished, plus {@code maxFrameBytes} for each GET_INLINE running (its answer's bound).
     */
    private long heldBytes;
    /** Descriptors received so far; with the decoder's bytes, the progress a stall lacks. */
    private long received;
    private long progressAtArm;
    private ScheduledFuture<?> stallTimer;
    private ChannelFutureListener resumeAfterWrite;

    ConnectionHandler(SidecarServer server, Executor executor, SidecarFrames.Decoder decoder) {
        this.server = server;
        this.executor = executor;
        this.decoder = decoder;
    }

    private record Request(ByteBuf frame, int opcode, long id, long bytes, long receivedNanos) {
        /** Bytes the request holds while it waits or runs: its frame, and for GET_INLINE its answer's bound. */
        static long bytes(ByteBuf frame, int opcode, int maxFrameBytes) {
            return frame.capacity() + (opcode == GET_INLINE ? maxFrameBytes : 0);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        tcp = ctx.channel().remoteAddress() instanceof InetSocketAddress;
        boolean local = false;
        long pid = -1;
        if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
            try {
                PeerCredentials peer = ch.peerCredentials();
                pid = peer.pid();
                local = server.uid() >= 0 && peer.uid() == server.uid();
            } catch (java.io.IOException e) {
                local = false; // unknown peer: no shared memory
            }
        }
        session = server.openSession(local, pid);
        held = new ClientSession.Held(session);
        resumeAfterWrite = f -> ctx.executor().execute(() -> resume(ctx));
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        received++;
        if (msg instanceof FileDescriptor fd) {
            receiveMemfd(ctx, fd);
            return;
        }
        ByteBuf frame = (ByteBuf) msg;
        if (awaitingFd) {
            frame.release();
            awaitingFd = false;
            server.metrics().malformedFrame();
            refuse(ctx, REGISTER_MEMFD, memfdRequestId, MALFORMED, "REGISTER_MEMFD: expected one byte carrying "
                    + "the memfd (SCM_RIGHTS), got a frame", true);
            return;
        }
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
        if (id == 0) {
            frame.release();
            refuse(ctx, opcode, 0, MALFORMED, "request id 0 is reserved for errors of the connection itself: "
                    + "number requests from 1", false);
        } else if (server.draining()) {
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
        } else if ((opcode == GET || opcode == GET_NAMED) && getCached(ctx, frame, opcode, id)) {
            frame.release(); // answered here, on the event loop
        } else {
            Request request = new Request(frame, opcode, id, Request.bytes(frame, opcode, server.maxFrameBytes()),
                    System.nanoTime());
            heldBytes += request.bytes();
            dispatch(ctx, request);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        armStallTimer(ctx);
        ctx.fireChannelReadComplete();
    }

    /**
     * Starts the stall timer when a frame is half received or a memfd is awaited: a client
     * that sends part of a frame (or announces a memfd and sends no descriptor) and then
     * nothing is closed with a reason once a whole timeout passes with no byte received.
     */
    private void armStallTimer(ChannelHandlerContext ctx) {
        if (stallTimer != null || !(awaitingFd || decoder.partialBytes() > 0)) {
            return;
        }
        progressAtArm = progress();
        stallTimer = ctx.executor().schedule(() -> stallTimerFired(ctx), server.frameTimeoutMillis(),
                java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private long progress() {
        return decoder.receivedBytes() + received;
    }

    private void stallTimerFired(ChannelHandlerContext ctx) {
        stallTimer = null;
        if (!ctx.channel().isActive() || !(awaitingFd || decoder.partialBytes() > 0)) {
            return;
        }
        if (progress() != progressAtArm || !ctx.channel().config().isAutoRead()) {
            armStallTimer(ctx); // progress, or the sidecar itself stopped reading: not the client's stall
            return;
        }
        server.metrics().malformedFrame();
        String what = awaitingFd ? "REGISTER_MEMFD announced a memfd, none came" : "a frame was started ("
                + decoder.partialBytes() + " bytes came), and no byte followed";
        awaitingFd = false;
        refuse(ctx, 0, 0, MALFORMED, what + " within " + server.frameTimeoutMillis() + " ms: closing", true);
    }

    /**
     * Answers a GET on the event loop when the lease cache can serve it without blocking
     * (one hand-off to a request thread and one back saved); false leaves the frame, its
     * reader index where it was, for the request executor.
     */
    private boolean getCached(ChannelHandlerContext ctx, ByteBuf frame, int opcode, long id) {
        long start = System.nanoTime();
        int body = frame.readerIndex();
        ByteBuf answer = SidecarFrames.start(ctx.alloc(), opcode, id, 4 + 8 * 4);
        boolean served = opcode == GET
                ? server.ops().getCached(session, frame, answer, cachedRead, held, EVENT_LOOP_GET_BYTES)
                : server.ops().getNamedCached(session, frame, answer, cachedRead, held, EVENT_LOOP_GET_BYTES);
        if (!served) {
            answer.release();
            frame.readerIndex(body);
            return false;
        }
        ctx.writeAndFlush(SidecarFrames.finish(answer));
        server.metrics().request(opcode, OK, System.nanoTime() - start);
        return true;
    }

    private void hello(ChannelHandlerContext ctx, ByteBuf body, long id) {
        if (session.greeted()) {
            refuse(ctx, HELLO, id, BAD_STATE, "HELLO was answered already: one per connection (reconnect to "
                    + "start over)", false);
            return;
        }
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
        if (tokenLength > 0 && !(tcp && server.token() != null)) {
            refuse(ctx, HELLO, id, MALFORMED, tcp ? "this sidecar has no token: send none" : "the Unix socket takes "
                    + "no token (its file mode admits the sidecar's user only): send none", false);
            return;
        }
        if (tcp && server.token() != null && !MessageDigest.isEqual(token,
                server.token().getBytes(StandardCharsets.UTF_8))) {
            refuse(ctx, HELLO, id, UNAUTHORIZED, "wrong or missing token", true);
            return;
        }
        int version = Math.min(VERSION, max);
        if (version < min || version < MIN_VERSION) {
            refuse(ctx, HELLO, id, UNSUPPORTED_VERSION, "this sidecar speaks versions " + MIN_VERSION + ".." + VERSION
                    + ", the client asked for " + min + ".." + max, false);
            return;
        }
        session.greet(version);
        ByteBuf out = SidecarFrames.start(ctx.alloc(), HELLO, id, HELLO_ANSWER_BYTES);
        out.writeShortLE(version).writeShortLE(session.local() ? 1 : 0).writeIntLE(server.maxFrameBytes())
                .writeIntLE(server.maxInFlight()).writeIntLE(0).writeLongLE(server.quotaBytes())
                .writeLongLE(session.id());
        if (version >= NAMED_VERSION) { // the sidecar's segment name and data address follow
            for (String s : server.ops().identity()) {
                byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                out.writeShortLE(bytes.length).writeBytes(bytes);
            }
        }
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
                    + "epoll; over TCP, send bytes inline (PUT_INLINE, GET_INLINE)", false);
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

    /**
     * REGISTER_MEMFD, second step: maps the received memfd and answers its buffer id. The
     * descriptor must come with exactly one byte and nothing after it (the client sends no
     * other request before the answer): more bytes waiting mean the framing is lost, and the
     * connection is closed with the reason.
     */
    private void receiveMemfd(ChannelHandlerContext ctx, FileDescriptor fd) {
        EpollDomainSocketChannel ch = (EpollDomainSocketChannel) ctx.channel();
        ch.config().setReadMode(DomainSocketReadMode.BYTES);
        try {
            if (!awaitingFd) {
                return; // not asked for: closing it is all
            }
            awaitingFd = false;
            int extra = PosixFiles.readable(ch.fd().intValue());
            if (extra != 0) {
                server.metrics().malformedFrame();
                refuse(ctx, REGISTER_MEMFD, memfdRequestId, MALFORMED, "REGISTER_MEMFD: the memfd must come with "
                        + "exactly one byte and nothing more before the answer; " + (extra < 0 ? "unknown" : extra)
                        + " more bytes followed it: closing", true);
                return;
            }
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
        if (!waiting.isEmpty() || !mayStart(ctx)) {
            waiting.addLast(request);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        start(ctx, request);
        if (overBudget(ctx)) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    /**
     * Whether a request may start now: fewer than max_in_flight run, and the connection's
     * bytes (held ones and unsent answers) stay within its budget; the first request always
     * may when nothing else is held, so that one larger than the budget still runs.
     */
    private boolean mayStart(ChannelHandlerContext ctx) {
        if (inFlight >= server.maxInFlight()) {
            return false;
        }
        long unsent = unsentBytes(ctx);
        return (inFlight == 0 && unsent == 0) || heldBytes + unsent <= server.connectionBytes();
    }

    private boolean overBudget(ChannelHandlerContext ctx) {
        return heldBytes + unsentBytes(ctx) > server.connectionBytes();
    }

    private static long unsentBytes(ChannelHandlerContext ctx) {
        var out = ctx.channel().unsafe().outboundBuffer();
        return out == null ? 0 : out.totalPendingWriteBytes();
    }

    private void start(ChannelHandlerContext ctx, Request request) {
        inFlight++;
        server.requestStarted();
        try {
            ClientSession owner = session;
            executor.execute(() -> run(ctx, owner, request));
        } catch (RejectedExecutionException e) {
            request.frame().release();
            refuse(ctx, request.opcode(), request.id(), SHUTTING_DOWN, "the sidecar is shutting down", false);
            done(ctx, request);
        }
    }

    /**
     * On a request thread: serves the request and hands its answer to the event loop. Whatever
     * fails (the store, or memory for the answer itself), the frame is released and the
     * request ends on the event loop; an answer that cannot even be allocated closes the
     * connection rather than leave its client waiting.
     */
    private void run(ChannelHandlerContext ctx, ClientSession owner, Request request) {
        long start = System.nanoTime();
        server.metrics().phase(request.opcode(), SidecarMetrics.Phase.QUEUED, start - request.receivedNanos());
        int status = OK;
        ByteBuf answer = null;
        try {
            answer = SidecarFrames.start(ctx.alloc(), request.opcode(), request.id(), 64);
            server.ops().serve(owner, request.opcode(), request.frame(), answer);
            SidecarFrames.finish(answer);
        } catch (Throwable e) {
            if (answer != null) {
                answer.release();
            }
            status = SidecarOps.status(e);
            answer = errorAnswer(ctx, request, status, e);
        } finally {
            request.frame().release();
            server.metrics().request(request.opcode(), status, System.nanoTime() - start);
        }
        ByteBuf reply = answer;
        long finished = System.nanoTime();
        try {
            // One hop to the event loop for both the write and the bookkeeping.
            ctx.executor().execute(() -> {
                if (reply != null) {
                    ctx.writeAndFlush(reply).addListener(resumeAfterWrite).addListener(f -> server.metrics().phase(
                            request.opcode(), SidecarMetrics.Phase.ANSWERED, System.nanoTime() - finished));
                } else {
                    ctx.close();
                }
                done(ctx, request);
            });
        } catch (RejectedExecutionException e) {
            if (reply != null) {
                reply.release();
            }
            server.requestEnded(); // the event loop is gone (shutdown past the drain time)
        }
    }

    /** The error answer for a failed request, or null when there is no memory even for that. */
    private static ByteBuf errorAnswer(ChannelHandlerContext ctx, Request request, int status, Throwable e) {
        String message = e instanceof SidecarException s ? s.reason() : String.valueOf(e.getMessage());
        try {
            return SidecarFrames.error(ctx.alloc(), request.opcode(), request.id(), status, message);
        } catch (OutOfMemoryError again) {
            return null;
        }
    }

    /** On the event loop: one request finished; start waiting ones, read again when none wait. */
    private void done(ChannelHandlerContext ctx, Request request) {
        inFlight--;
        heldBytes -= request.bytes();
        server.requestEnded();
        resume(ctx);
        if (inactive && inFlight == 0) {
            closeSession();
        }
    }

    /**
     * On the event loop: starts the waiting requests that fit now, and reads the socket again
     * when none waits and the connection is within its budget (back pressure on answers the
     * client does not read, as on requests beyond max_in_flight).
     */
    private void resume(ChannelHandlerContext ctx) {
        while (!waiting.isEmpty() && mayStart(ctx)) {
            start(ctx, waiting.pollFirst());
        }
        if (waiting.isEmpty() && ctx.channel().isActive() && !overBudget(ctx)) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        resume(ctx);
        ctx.fireChannelWritabilityChanged();
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
        if (stallTimer != null) {
            stallTimer.cancel(false);
            stallTimer = null;
        }
        Request r;
        while ((r = waiting.pollFirst()) != null) {
            heldBytes -= r.bytes();
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
