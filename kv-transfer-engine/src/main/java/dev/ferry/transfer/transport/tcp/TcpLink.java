package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.slice.Opcode;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.slice.UnsettledSliceException;
import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.LinkEstimator;
import dev.ferry.transfer.transport.LinkState;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.MalformedFrameException;
import dev.ferry.transfer.transport.frame.SliceFrame;
import dev.ferry.transfer.tls.PortSecurity;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One TCP connection to a peer, used as one link. Keeps the slices it has sent until
 * their answer arrives; when the connection drops, or makes no progress for the stall
 * timeout while slices are outstanding (a cut cable sends no RST), every outstanding slice
 * is reported as a retryable failure and the link goes down until {@link #connect} works
 * again. Each connection opens with a HELLO that carries its token, 64 random bits; the
 * slices that fail unanswered carry an {@link UnsettledSliceException} whose fence asks the
 * target, over another connection, to close the lost one ({@link TcpPeer#fence}).
 *
 * <p>Thread-safe: {@link #send} from any thread; answers are handled on the connection's
 * event loop.
 */
final class TcpLink implements Link {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TcpLink.class);
    private final String name;
    private final Endpoint endpoint;
    private final Bootstrap bootstrap;
    private final SliceListener listener;
    private final long stallTimeoutNanos;
    private final LinkEstimator estimator = new LinkEstimator();
    private final Map<Long, Slice> outstanding = new ConcurrentHashMap<>();
    private final AtomicLong inFlightBytes = new AtomicLong();
    private static final SecureRandom TOKENS = new SecureRandom();
    private final Map<Long, CompletableFuture<Void>> pendingFences = new ConcurrentHashMap<>();
    private final AtomicLong fenceIds = new AtomicLong();
    private volatile TcpPeer peer;
    /** Token of the current connection (see {@link SliceFrame#HELLO}). */
    private volatile long token;
    private volatile Channel channel;
    /** The frames sent on {@link #channel}: set before it, for each connection. */
    private volatile Outbox outbox;
    private volatile long lastProgressNanos;
    private volatile long lastConnectFailureNanos = Long.MIN_VALUE / 2;
    private volatile int connectFailures;
    /** Connects refused in a row (RST to the SYN: nothing listens there), 0 after any other outcome. */
    private volatile int refusedInARow;
    private volatile boolean probing;
    private final PortSecurity security;
    /** Why the latest connect failed, for the message of a slice sent while down; null once connected. */
    private volatile String connectFailure;

    TcpLink(String name, Endpoint endpoint, Bootstrap bootstrap, SliceListener listener, long stallTimeoutNanos,
            PortSecurity security) {
        this.security = security;
        this.name = name;
        this.endpoint = endpoint;
        this.bootstrap = bootstrap;
        this.listener = listener;
        this.stallTimeoutNanos = stallTimeoutNanos;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean isUp() {
        Channel c = channel;
        return c != null && c.isActive();
    }

    @Override
    public LinkState state() {
        return isUp() ? LinkState.UP : probing ? LinkState.PROBING : LinkState.QUARANTINED;
    }

    @Override
    public String downReason() {
        return isUp() ? null : connectFailure;
    }

    @Override
    public long inFlightBytes() {
        return inFlightBytes.get();
    }

    @Override
    public LinkEstimator estimator() {
        return estimator;
    }

    /** Called once by the peer that owns this link: lost connections are fenced through it. */
    void attach(TcpPeer owner) {
        this.peer = owner;
    }

    /**
     * Sends a FENCE for {@code lostToken} on this link's connection, unless this link is down
     * or that connection is the lost one.
     *
     * @return completes on the target's FENCE_ACK, exceptionally if this connection closes
     *         first; null if nothing was sent
     */
    CompletableFuture<Void> sendFence(long lostToken) {
        Channel c = channel;
        if (c == null || !c.isActive() || token == lostToken) {
            return null;
        }
        long id = fenceIds.incrementAndGet();
        CompletableFuture<Void> acked = new CompletableFuture<>();
        pendingFences.put(id, acked);
        c.writeAndFlush(SliceFrame.header(c.alloc(), SliceFrame.FENCE, id, lostToken, 0, 0, SliceFrame.Status.OK,
                null), c.voidPromise());
        if (!c.isActive() && pendingFences.remove(id) != null) {
            acked.completeExceptionally(new TransferException("link " + name + " closed before its FENCE", true));
        }
        return acked;
    }

    /**
     * Sends a FENCE_SESSION for an Aeron session of this engine on this link's connection,
     * unless this link is down.
     *
     * @return completes on the target's FENCE_SESSION_ACK, exceptionally if this connection
     *         closes first; null if nothing was sent
     */
    CompletableFuture<Void> sendSessionFence(int sessionId, String replyEndpoint) {
        Channel c = channel;
        if (c == null || !c.isActive()) {
            return null;
        }
        long id = fenceIds.incrementAndGet();
        CompletableFuture<Void> acked = new CompletableFuture<>();
        pendingFences.put(id, acked);
        c.writeAndFlush(SliceFrame.header(c.alloc(), SliceFrame.FENCE_SESSION, id, sessionId, 0, 0,
                SliceFrame.Status.OK, SliceFrame.name(replyEndpoint)), c.voidPromise());
        if (!c.isActive() && pendingFences.remove(id) != null) {
            acked.completeExceptionally(new TransferException("link " + name + " closed before its FENCE_SESSION",
                    true));
        }
        return acked;
    }

    /**
     * Connects to this link's endpoint refused in a row since the last that worked or failed
     * otherwise (timed out, unreachable): nothing listens there.
     */
    int refusedInARow() {
        return refusedInARow;
    }

    /** {@link System#nanoTime()} of the latest failed connect attempt. */
    long lastConnectFailureNanos() {
        return lastConnectFailureNanos;
    }

    /**
     * Whether a reconnect may be tried now: after {@code n} failed connects in a row the link
     * waits {@code base * 2^(n-1)}, at most 32 times {@code base} (exponential backoff).
     */
    boolean mayReconnect(long nowNanos, long baseBackoffNanos) {
        int n = connectFailures;
        long backoff = n == 0 ? 0 : baseBackoffNanos << Math.min(n - 1, 5);
        return nowNanos - lastConnectFailureNanos >= backoff;
    }

    /**
     * Connects, waiting at most {@code timeoutMillis}. Must not be called on an event loop.
     *
     * @return whether the link is up afterwards
     */
    boolean connect(long timeoutMillis) {
        if (isUp()) {
            return true;
        }
        probing = true;
        try {
            return connectNow(timeoutMillis);
        } finally {
            probing = false;
        }
    }

    private boolean connectNow(long timeoutMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        ChannelFuture future = bootstrap.connect(endpoint.host(), endpoint.port());
        if (!future.awaitUninterruptibly(timeoutMillis) || !future.isSuccess()) {
            future.cancel(false);
            if (future.channel() != null) {
                future.channel().close();
            }
            refusedInARow = refused(future.cause()) ? refusedInARow + 1 : 0;
            return connectFailed(future.cause() == null ? "connect timed out" : String.valueOf(future.cause().getMessage()));
        }
        Channel c = future.channel();
        if (security.isTls()) {
            // Nothing is sent before the peer has proven its certificate, nor does the link count as up.
            c.config().setRecvByteBufAllocator(new AdaptiveRecvByteBufAllocator());
            SslHandler tls = security.connect(c, endpoint.host(), endpoint.port());
            long leftMillis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
            if (!tls.handshakeFuture().awaitUninterruptibly(leftMillis) || !tls.handshakeFuture().isSuccess()) {
                c.close();
                refusedInARow = 0; // something listens there: the peer is not gone
                Throwable cause = tls.handshakeFuture().cause();
                return connectFailed(cause == null ? "TLS handshake timed out" : PortSecurity.handshakeFailure(cause));
            }
        }
        long connectionToken = TOKENS.nextLong();
        c.pipeline().addLast("chunks", new ChunkedWriteHandler()).addLast("link", new AnswerHandler(connectionToken));
        // First on the connection, before any WRITE: the target learns the token it may be fenced by.
        c.writeAndFlush(SliceFrame.header(c.alloc(), SliceFrame.HELLO, 0, connectionToken, 0, 0, SliceFrame.Status.OK,
                null), c.voidPromise());
        token = connectionToken;
        outbox = new Outbox(c);
        lastProgressNanos = System.nanoTime();
        var stallCheck = c.eventLoop().scheduleAtFixedRate(() -> checkStall(connectionToken), stallTimeoutNanos / 4,
                stallTimeoutNanos / 4, TimeUnit.NANOSECONDS);
        c.closeFuture().addListener(f -> stallCheck.cancel(false));
        channel = c;
        connectFailures = 0;
        refusedInARow = 0;
        connectFailure = null;
        return true;
    }

    private boolean connectFailed(String why) {
        if (!why.equals(connectFailure) && why.startsWith("TLS")) {
            LOG.warn("link {} to {}: {}", name, endpoint, why); // once per distinct reason, not per probe
        }
        connectFailure = why;
        lastConnectFailureNanos = System.nanoTime();
        connectFailures++;
        return false;
    }

    /** Whether a connect failed on the peer's RST (ECONNREFUSED), not on a timeout or a route. */
    private static boolean refused(Throwable cause) {
        return cause instanceof java.net.ConnectException && cause.getMessage() != null
                && cause.getMessage().contains("refused");
    }

    /**
     * Whether a read or write failed because the peer reset the connection (its socket is
     * closed: ECONNRESET, or EPIPE after its RST).
     */
    static boolean resetByPeer(Throwable cause) {
        String m = cause instanceof java.io.IOException ? cause.getMessage() : null;
        return m != null && (m.contains("reset by peer") || m.contains("Connection reset") || m.contains("Broken pipe"));
    }

    @Override
    public void send(Slice slice) {
        Outbox out = outbox;
        Channel c = out == null ? null : out.channel();
        if (c == null || !c.isActive()) {
            String why = connectFailure;
            listener.onFailed(slice, this, new TransferException("link " + name + " is down"
                    + (why == null ? "" : " (" + why + ")"), true));
            return;
        }
        boolean idle = outstanding.isEmpty();
        if (idle) {
            lastProgressNanos = System.nanoTime();
        }
        byte[] segmentName = SliceFrame.name(slice.target());
        outstanding.put(slice.id(), slice);
        inFlightBytes.addAndGet(slice.length());
        slice.markSent(System.nanoTime());
        if (slice.opcode() == Opcode.WRITE || slice.opcode() == Opcode.NOTIFY) {
            byte type = slice.opcode() == Opcode.WRITE ? SliceFrame.WRITE : SliceFrame.NOTIFY;
            // One write per frame: writes from several threads must not interleave header and payload.
            if (idle || !ChecksummedPayload.inOneWrite(false, slice.length())) {
                out.send(ChecksummedPayload.frame(c.alloc(), type, slice.id(), slice.targetOffset(), segmentName,
                        slice.localBytes().asByteBuffer(), idle, idle ? slice.payloadCrc() : 0));
            } else {
                // Small, behind others: checksummed on the event loop just before its copy (WholeFrame).
                out.send(new WholeFrame(SliceFrame.header(c.alloc(), type, slice.id(), slice.targetOffset(),
                        slice.length(), 0, SliceFrame.Status.OK, segmentName), slice.localBytes().asByteBuffer()));
            }
        } else {
            // A READ behind others asks for its answer with a trailer, as a WRITE behind others is sent.
            byte type = idle ? SliceFrame.READ : (byte) (SliceFrame.READ | SliceFrame.CRC_TRAILER);
            out.send(SliceFrame.header(c.alloc(), type, slice.id(), slice.targetOffset(), slice.length(), 0,
                    SliceFrame.Status.OK, segmentName));
        }
    }

    /** Closes the connection; outstanding slices fail as retryable. */
    void close() {
        Channel c = channel;
        if (c != null) {
            c.close().awaitUninterruptibly();
        }
    }

    private void checkStall(long connectionToken) {
        if (!outstanding.isEmpty() && System.nanoTime() - lastProgressNanos > stallTimeoutNanos) {
            Channel c = channel;
            failOutstanding("link " + name + " made no progress for "
                    + TimeUnit.NANOSECONDS.toMillis(stallTimeoutNanos) + " ms", true, connectionToken, false);
            if (c != null) {
                c.close();
            }
        }
    }

    /**
     * Fails every outstanding slice: each was sent on the connection of {@code connectionToken}
     * and is unanswered, so each failure carries one shared fence of that connection.
     *
     * @param closedByPeer whether the peer ended the connection (its FIN or RST came in), as
     *                     opposed to this side closing it (a stall, a malformed answer)
     */
    private void failOutstanding(String reason, boolean retryable, long connectionToken, boolean closedByPeer) {
        LostConnection once = new LostConnection(connectionToken, closedByPeer);
        for (Long id : outstanding.keySet()) {
            Slice slice = outstanding.remove(id);
            if (slice != null) {
                inFlightBytes.addAndGet(-slice.length());
                estimator.onFailed();
                listener.onFailed(slice, this, new UnsettledSliceException(reason, retryable, once));
            }
        }
    }

    /** The fence of one lost connection, asked for once however many of its slices wait on it. */
    private final class LostConnection implements Supplier<CompletableFuture<Void>> {
        private final long connectionToken;
        private final boolean closedByPeer;
        private CompletableFuture<Void> fence;

        LostConnection(long connectionToken, boolean closedByPeer) {
            this.connectionToken = connectionToken;
            this.closedByPeer = closedByPeer;
        }

        @Override
        public synchronized CompletableFuture<Void> get() {
            if (fence == null) {
                TcpPeer owner = peer;
                fence = owner == null ? CompletableFuture.failedFuture(new TransferException("link " + name
                        + " belongs to no peer", false)) : owner.fence(connectionToken, closedByPeer);
            }
            return fence;
        }
    }

    private void failFences(String reason) {
        for (Long id : pendingFences.keySet()) {
            CompletableFuture<Void> acked = pendingFences.remove(id);
            if (acked != null) {
                acked.completeExceptionally(new TransferException(reason, true));
            }
        }
    }

    private Slice take(long sliceId) {
        Slice slice = outstanding.remove(sliceId);
        if (slice != null) {
            inFlightBytes.addAndGet(-slice.length());
            lastProgressNanos = System.nanoTime();
        }
        return slice;
    }

    /** Handles WRITE_ACK and READ_DATA frames on the event loop, READ payloads streamed into place. */
    private final class AnswerHandler extends SliceFrameReader {
        private final long connectionToken;
        private Slice reading;
        /** The peer ended the connection: its FIN (end of input) or RST came in. */
        private boolean closedByPeer;

        AnswerHandler(long connectionToken) {
            this.connectionToken = connectionToken;
        }

        @Override
        MemorySegment onHeader(ChannelHandlerContext ctx, FrameHeader header) {
            reading = null;
            byte type = header.type();
            if (type != SliceFrame.READ_DATA && type != SliceFrame.WRITE_ACK && type != SliceFrame.NOTIFY_ACK
                    && type != SliceFrame.FENCE_ACK && type != SliceFrame.FENCE_SESSION_ACK) {
                throw new MalformedFrameException("a link does not accept frame type " + header.type());
            }
            if (header.type() != SliceFrame.READ_DATA) {
                return null;
            }
            Slice slice = outstanding.get(header.sliceId());
            if (slice == null || slice.owner().isDone() || slice.length() != header.bodyLength()) {
                return null; // a late answer (the slice or its request gave up) or a wrong length: dropped
            }
            reading = slice;
            return slice.localBytes();
        }

        @Override
        void onFrame(ChannelHandlerContext ctx, FrameHeader header, int payloadCrc, String errorText) {
            if (header.type() == SliceFrame.FENCE_ACK || header.type() == SliceFrame.FENCE_SESSION_ACK) {
                CompletableFuture<Void> acked = pendingFences.remove(header.sliceId());
                if (acked != null) {
                    acked.complete(null);
                }
                return;
            }
            Slice slice = take(header.sliceId());
            if (slice == null) {
                return;
            }
            SliceFrame.Status status = header.status();
            if (status != SliceFrame.Status.OK) {
                estimator.onFailed();
                listener.onFailed(slice, TcpLink.this, new TransferException(status + " from " + endpoint + ": "
                        + errorText, status.retryable()));
                return;
            }
            if (header.type() == SliceFrame.READ_DATA && (reading != slice || payloadCrc != header.crc())) {
                if (!slice.owner().isDone()) {
                    estimator.onFailed(); // an answer dropped because its request gave up is not the link's fault
                }
                listener.onFailed(slice, TcpLink.this,
                        new TransferException("READ payload from " + endpoint + " failed its CRC32C", true));
                return;
            }
            estimator.onCompleted(slice.length(), slice.sentNanos(), System.nanoTime());
            listener.onCompleted(slice, TcpLink.this);
        }

        @Override
        void onMalformed(ChannelHandlerContext ctx, long sliceId, String why) {
            ctx.close(); // first, so that no retry goes out on this connection
            // With the reason, not just "closed"; not retried: a peer that speaks another frame version
            // (or garbles its frames) answers the next attempt the same way, and the caller needs this reason.
            failOutstanding("malformed answer from " + endpoint + ": " + why, false, connectionToken, false);
            failFences("malformed answer from " + endpoint);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            failOutstanding("connection " + name + (closedByPeer ? " closed by the peer" : " closed"), true,
                    connectionToken, closedByPeer);
            failFences("connection " + name + " closed");
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof ChannelInputShutdownEvent) {
                closedByPeer = true; // its FIN: links allow half closure only to see this
                ctx.close();
            }
        }

        @Override
        void onReadFailed(ChannelHandlerContext ctx, java.io.IOException cause) {
            closedByPeer |= resetByPeer(cause);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            closedByPeer |= resetByPeer(cause);
            ctx.close();
        }
    }
}
