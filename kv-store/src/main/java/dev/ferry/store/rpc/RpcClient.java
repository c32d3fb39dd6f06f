package dev.ferry.store.rpc;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import dev.ferry.transfer.tls.PortSecurity;
import io.netty.handler.ssl.SslHandler;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One connection to an {@link RpcServer}, shared by any number of threads: calls are
 * multiplexed by call id. A call waits at most the timeout; when the connection drops,
 * every pending call fails with {@link RpcException#UNAVAILABLE} and the next call
 * reconnects.
 *
 * <p>Requests carry the highest server epoch its {@link EpochFence} has seen; an answer from
 * a lower epoch (a deposed master) fails its call with {@link RpcException#NOT_LEADER}.
 *
 * <p>Thread-safe. Owns a socket and an event loop: close it.
 */
public final class RpcClient implements AutoCloseable {
    private final String host;
    private final int port;
    private final long timeoutMillis;
    private final RpcIo rpcIo = RpcIo.configured();
    private final EventLoopGroup group = rpcIo.group(1);
    private final Bootstrap bootstrap;
    private final Map<Long, CompletableFuture<ByteBuf>> pending = new ConcurrentHashMap<>();
    private final AtomicLong callIds = new AtomicLong();
    private final EpochFence fence;
    private final PortSecurity security;
    private volatile Channel channel;

    /**
     * @param host          server address
     * @param port          server port
     * @param timeoutMillis longest wait for a connect or an answer, ms
     */
    public RpcClient(String host, int port, long timeoutMillis) {
        this(host, port, timeoutMillis, new EpochFence());
    }

    /**
     * @param fence the highest epoch seen, shared with the clients that came before this one
     * @see #RpcClient(String, int, long)
     */
    public RpcClient(String host, int port, long timeoutMillis, EpochFence fence) {
        this(host, port, timeoutMillis, fence, PortSecurity.process());
    }

    /**
     * @param security TLS (a call connects only once the server has proven its certificate), or plain TCP
     * @see #RpcClient(String, int, long, EpochFence)
     */
    public RpcClient(String host, int port, long timeoutMillis, EpochFence fence, PortSecurity security) {
        this.security = security;
        this.fence = fence;
        this.host = host;
        this.port = port;
        this.timeoutMillis = timeoutMillis;
        this.bootstrap = new Bootstrap().group(group).channel(rpcIo.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(timeoutMillis, Integer.MAX_VALUE))
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        security.connect(ch, host, port);
                        ch.pipeline().addLast(RpcFrames.decoder()).addLast(new Answers());
                    }
                });
    }

    /** Longest wait for a connect or an answer, ms, unless a call names its own. */
    public long timeoutMillis() {
        return timeoutMillis;
    }

    /** The I/O backend of this client's event loop (epoll unless {@code ferry.rpc.io} names another, or epoll cannot run here). */
    public dev.ferry.transfer.transport.tcp.IoBackend ioBackend() {
        return rpcIo.backend();
    }

    /** Calls waiting for their answers now (for tests). */
    int pendingCalls() {
        return pending.size();
    }

    /** The highest server epoch seen, shared with the other clients of its fence. */
    public EpochFence fence() {
        return fence;
    }

    /** Where this client connects, {@code host:port}. */
    public String target() {
        return host + ":" + port;
    }

    /**
     * Calls {@code method}, writing the request with {@code request} and decoding the
     * answer with {@code answer} (which must not keep the buffer).
     *
     * @throws RpcException with the remote status, or UNAVAILABLE / TIMEOUT
     */
    public <T> T call(int method, Consumer<ByteBuf> request, Function<ByteBuf, T> answer) {
        return call(method, request, answer, timeoutMillis);
    }

    /** As {@link #call(int, Consumer, Function)} with its own timeout in ms. */
    public <T> T call(int method, Consumer<ByteBuf> request, Function<ByteBuf, T> answer, long timeoutMillis) {
        Channel c = connected();
        long callId = callIds.incrementAndGet();
        CompletableFuture<ByteBuf> future = new CompletableFuture<>();
        pending.put(callId, future);
        ByteBuf frame = RpcFrames.start(c.alloc(), RpcFrames.REQUEST, callId, method);
        try {
            request.accept(frame);
        } catch (RuntimeException e) {
            pending.remove(callId);
            frame.release();
            throw e;
        }
        c.writeAndFlush(RpcFrames.finish(frame, fence.highest())).addListener(f -> {
            if (!f.isSuccess()) {
                fail(callId, "cannot send to " + target() + ": " + f.cause());
            }
        });
        ByteBuf payload;
        try {
            payload = future.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            pending.remove(callId);
            throw new RpcException(RpcException.TIMEOUT, "no answer from " + target() + " within " + timeoutMillis
                    + " ms (method " + method + ")");
        } catch (ExecutionException e) {
            throw (RpcException) e.getCause();
        } catch (InterruptedException e) {
            pending.remove(callId);
            Thread.currentThread().interrupt();
            throw new RpcException(RpcException.UNAVAILABLE, "interrupted while calling " + target());
        }
        try {
            return answer.apply(payload);
        } finally {
            payload.release();
        }
    }

    /**
     * The epoch of the server that sent an answer: for an answer decoder of
     * {@link #call(int, Consumer, Function)}, given the buffer it was handed (a master's
     * epoch when it answered, 0 from servers without one).
     */
    public static long answerEpoch(ByteBuf answer) {
        return answer.getLong(RpcFrames.RECEIVED_EPOCH_OFFSET);
    }

    /**
     * Sends a request without waiting for its answer, which is dropped when it arrives. For
     * calls whose outcome the caller does not need (a lease release that cannot have
     * expired); a request that cannot be sent is lost, so the server must tolerate that.
     *
     * @throws RpcException UNAVAILABLE when the server cannot be reached
     */
    public void send(int method, Consumer<ByteBuf> request) {
        Channel c = connected();
        ByteBuf frame = RpcFrames.start(c.alloc(), RpcFrames.REQUEST, callIds.incrementAndGet(), method);
        try {
            request.accept(frame);
        } catch (RuntimeException e) {
            frame.release();
            throw e;
        }
        c.writeAndFlush(RpcFrames.finish(frame, fence.highest()));
    }

    private synchronized Channel connected() {
        Channel c = channel;
        if (c != null && c.isActive()) {
            return c;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        ChannelFuture f = bootstrap.connect(host, port);
        if (!f.awaitUninterruptibly(timeoutMillis) || !f.isSuccess()) {
            f.cancel(false);
            throw RpcException.notSent("cannot connect to " + target()
                    + (f.cause() == null ? " (timed out)" : " (" + f.cause().getMessage() + ")"));
        }
        SslHandler tls = f.channel().pipeline().get(SslHandler.class);
        if (tls != null) {
            // No request goes out before the server has proven its certificate (and accepted ours).
            var handshake = tls.handshakeFuture();
            long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
            if (!handshake.awaitUninterruptibly(left) || !handshake.isSuccess()) {
                f.channel().close();
                throw RpcException.notSent("cannot connect to " + target() + " ("
                        + (handshake.cause() == null ? "TLS handshake timed out" : PortSecurity.handshakeFailure(
                        handshake.cause())) + ")");
            }
        }
        channel = f.channel();
        return channel;
    }

    /**
     * Closes the connection (a peer that stopped answering): calls still waiting on it fail
     * with UNAVAILABLE, and the next call connects again.
     */
    public void disconnect() {
        Channel c = channel;
        if (c != null) {
            c.close();
        }
    }

    private void fail(long callId, String why) {
        CompletableFuture<ByteBuf> f = pending.remove(callId);
        if (f != null) {
            f.completeExceptionally(new RpcException(RpcException.UNAVAILABLE, why));
        }
    }

    @Override
    public void close() {
        Channel c = channel;
        if (c != null) {
            c.close().awaitUninterruptibly();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private final class Answers extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf frame = (ByteBuf) msg;
            if (frame.readableBytes() < RpcFrames.HEADER_BYTES) {
                frame.release();
                ctx.close();
                return;
            }
            byte kind = frame.readByte();
            long callId = frame.readLong();
            frame.readUnsignedShort();
            long epoch = frame.readLong();
            CompletableFuture<ByteBuf> f = pending.remove(callId);
            if (f == null) {
                frame.release(); // a late answer after a timeout
                return;
            }
            if (!fence.admit(epoch) && !isNotLeader(kind, frame)) {
                frame.release();
                f.completeExceptionally(new RpcException(RpcException.NOT_LEADER, "answer from " + target()
                        + " refused: its epoch " + epoch + " is older than epoch " + fence.highest()
                        + " already seen (a deposed master)"));
                return;
            }
            if (kind == RpcFrames.ANSWER) {
                f.complete(frame);
                return;
            }
            try {
                int status = frame.readableBytes() >= 2 ? frame.readUnsignedShort() : RpcException.INTERNAL;
                f.completeExceptionally(new RpcException(status, Wire.readString(frame)));
            } catch (RpcException e) {
                f.completeExceptionally(e);
            } finally {
                frame.release();
            }
        }

        /** A refusal is passed on as it is: it says more than "stale" would. */
        private static boolean isNotLeader(byte kind, ByteBuf frame) {
            return kind == RpcFrames.ERROR && frame.readableBytes() >= 2
                    && frame.getUnsignedShort(frame.readerIndex()) == RpcException.NOT_LEADER;
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            for (Long id : pending.keySet()) {
                fail(id, "connection to " + target() + " lost");
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
