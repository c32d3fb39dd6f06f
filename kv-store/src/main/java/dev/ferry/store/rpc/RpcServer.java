package dev.ferry.store.rpc;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import dev.ferry.transfer.tls.PortSecurity;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntPredicate;

/**
 * Accepts RPC connections and runs each request on the given executor (so handlers may
 * block without stalling I/O), or, for the methods the caller names as inline, on the I/O
 * thread itself. A handler may also answer later ({@link RpcHandler#handleLater}): the answer
 * is written on the connection's I/O thread when its stage completes. A malformed frame
 * closes its connection; a handler that throws sends an error answer; nothing a client
 * sends can stop the server (checked by {@code MasterFrameFuzzTest}).
 *
 * <p>Every answer carries the server's epoch ({@link ServerEpoch}), read when the request
 * arrives and again when its answer is sent: a server that may not answer (a master that is
 * not, or no longer, the leader) refuses with {@link RpcException#NOT_LEADER} instead, even a
 * call it already served; so does one whose epoch is older than the request's (a client has
 * seen a newer leader).
 *
 * <p>Thread-safe. Owns a socket and an event loop: close it. The executor stays the
 * caller's.
 */
public final class RpcServer implements AutoCloseable {
    private final RpcIo rpcIo = RpcIo.configured();
    private final EventLoopGroup group = rpcIo.group(1);
    private final Channel channel;
    private final LongAdder malformed = new LongAdder();
    private final ServerEpoch epoch;
    /** The accepted connections, closed with the server (its event loop's end alone may not close them). */
    private final io.netty.channel.group.ChannelGroup connections =
            new io.netty.channel.group.DefaultChannelGroup(io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);

    /**
     * @param host     address to bind, e.g. 127.0.0.1
     * @param port     port; 0 picks a free one
     * @param handler  serves requests
     * @param executor runs the handler
     * @throws IllegalStateException naming the port when it is in use or cannot be bound
     */
    public RpcServer(String host, int port, RpcHandler handler, ExecutorService executor) {
        this(host, port, handler, executor, method -> false);
    }

    /**
     * @param inline methods short enough to serve on the I/O thread itself, saving the hand-off
     *               to {@code executor} (two thread wake-ups per call); they must never block
     * @see #RpcServer(String, int, RpcHandler, ExecutorService)
     */
    public RpcServer(String host, int port, RpcHandler handler, ExecutorService executor, IntPredicate inline) {
        this(host, port, handler, executor, inline, ServerEpoch.NONE);
    }

    /**
     * @param epoch the epoch of answers, and whether to answer at all
     * @see #RpcServer(String, int, RpcHandler, ExecutorService, IntPredicate)
     */
    public RpcServer(String host, int port, RpcHandler handler, ExecutorService executor, IntPredicate inline,
                     ServerEpoch epoch) {
        this(host, port, handler, executor, inline, epoch, PortSecurity.process());
    }

    /**
     * @param security TLS on every connection, or plain TCP (then on loopback only, unless insecure)
     * @throws IllegalStateException also when {@code host} is beyond loopback without TLS
     * @see #RpcServer(String, int, RpcHandler, ExecutorService, IntPredicate, ServerEpoch)
     */
    public RpcServer(String host, int port, RpcHandler handler, ExecutorService executor, IntPredicate inline,
                     ServerEpoch epoch, PortSecurity security) {
        security.checkListen("the RPC port", host, port);
        this.epoch = epoch;
        try {
            channel = new ServerBootstrap().group(group).channel(rpcIo.serverChannel())
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            connections.add(ch);
                            security.serve(ch);
                            ch.pipeline().addLast(RpcFrames.decoder()).addLast(new Dispatch(handler, executor, inline));
                        }
                    }).bind(host, port).syncUninterruptibly().channel();
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            String why = e instanceof BindException ? "address in use" : String.valueOf(e.getMessage());
            throw new IllegalStateException("cannot listen on " + host + ":" + port + " (" + why + ")", e);
        }
    }

    /** The bound port. */
    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    /** The I/O backend of this server's event loop (epoll unless {@code ferry.rpc.io} names another, or epoll cannot run here). */
    public dev.ferry.transfer.transport.tcp.IoBackend ioBackend() {
        return rpcIo.backend();
    }

    /** Frames refused as malformed. */
    public long malformedFrames() {
        return malformed.sum();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
        connections.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private final class Dispatch extends ChannelInboundHandlerAdapter {
        private final RpcHandler handler;
        private final ExecutorService executor;
        private final IntPredicate inline;

        Dispatch(RpcHandler handler, ExecutorService executor, IntPredicate inline) {
            this.handler = handler;
            this.executor = executor;
            this.inline = inline;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf frame = (ByteBuf) msg;
            if (frame.readableBytes() < RpcFrames.HEADER_BYTES || frame.getByte(frame.readerIndex()) != RpcFrames.REQUEST) {
                frame.release();
                malformed.increment();
                ctx.close();
                return;
            }
            frame.skipBytes(1);
            long callId = frame.readLong();
            int method = frame.readUnsignedShort();
            long clientEpoch = frame.readLong();
            if (inline.test(method)) {
                serve(ctx, frame, callId, method, clientEpoch);
                return;
            }
            try {
                executor.execute(() -> serve(ctx, frame, callId, method, clientEpoch));
            } catch (RejectedExecutionException e) {
                frame.release();
                ctx.writeAndFlush(RpcFrames.error(ctx.alloc(), callId, method, 0,
                        new RpcException(RpcException.UNAVAILABLE, "server is shutting down")));
            }
        }

        private void serve(ChannelHandlerContext ctx, ByteBuf request, long callId, int method, long clientEpoch) {
            long term;
            try {
                term = epoch.current();
                if (clientEpoch > term) {
                    throw new RpcException(RpcException.NOT_LEADER, "not the leader: this server's epoch " + term
                            + " is older than epoch " + clientEpoch + " that its client has seen");
                }
            } catch (RpcException e) {
                request.release();
                ctx.writeAndFlush(RpcFrames.error(ctx.alloc(), callId, method, 0, e));
                return;
            }
            ByteBuf answer = RpcFrames.start(ctx.alloc(), RpcFrames.ANSWER, callId, method);
            CompletionStage<?> later;
            try {
                later = handler.handleLater(method, request, answer);
            } catch (RuntimeException | Error e) {
                answer.release();
                ctx.writeAndFlush(RpcFrames.error(ctx.alloc(), callId, method, term, asRpc(e)));
                return;
            } finally {
                request.release();
            }
            if (later == null) {
                answer(ctx, answer, callId, method, term, null);
                return;
            }
            later.whenComplete((ignored, failure) -> {
                try {
                    ctx.executor().execute(() -> answer(ctx, answer, callId, method, term, failure));
                } catch (RejectedExecutionException closing) {
                    answer.release();
                }
            });
        }

        private void answer(ChannelHandlerContext ctx, ByteBuf answer, long callId, int method, long term,
                            Throwable failure) {
            RpcException refusal = null;
            try {
                long now = epoch.current();
                if (now != term) {
                    refusal = new RpcException(RpcException.NOT_LEADER, "not the leader: the term of epoch " + term
                            + " ended while the call was served");
                }
            } catch (RpcException e) {
                refusal = e;
            }
            if (refusal != null) {
                answer.release();
                ctx.writeAndFlush(RpcFrames.error(ctx.alloc(), callId, method, 0, refusal));
                return;
            }
            if (failure == null) {
                ctx.writeAndFlush(RpcFrames.finish(answer, term));
                return;
            }
            answer.release();
            Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
            ctx.writeAndFlush(RpcFrames.error(ctx.alloc(), callId, method, term, asRpc(cause)));
        }

        private static RpcException asRpc(Throwable e) {
            return e instanceof RpcException r ? r : new RpcException(RpcException.INTERNAL, "internal error: " + e);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            malformed.increment();
            ctx.close();
        }
    }
}
