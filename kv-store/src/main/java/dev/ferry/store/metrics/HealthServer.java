package dev.ferry.store.metrics;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Health and metrics over HTTP/1.1 (Netty), for every long-running process (sidecar, master,
 * store node): {@code GET /health} is 200 while the process runs; {@code GET /ready} is 200
 * when the process serves (what that means is the process's {@code ready} test: a sidecar
 * or store node registered with a reachable master, a master that leads), 503 otherwise;
 * {@code GET /metrics} is every meter in the Prometheus text format (version 0.0.4), after
 * the process's {@code beforeScrape} action (one read of the state the gauges show, so that
 * they agree with each other). Anything else is 404, a method other than GET or HEAD 405.
 *
 * <p>Thread-safe. Owns a socket and an event loop: close it.
 */
public final class HealthServer implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel;

    /**
     * @param host  address to bind (loopback by default)
     * @param port  port, 0 for a free one
     * @param ready whether the process serves
     * @throws IllegalStateException when the port cannot be bound
     */
    public HealthServer(String host, int port, PrometheusMeterRegistry registry, BooleanSupplier ready) {
        this(host, port, registry, ready, () -> { });
    }

    /**
     * @param host         address to bind (loopback by default)
     * @param port         port, 0 for a free one
     * @param ready        whether the process serves
     * @param beforeScrape runs on the HTTP thread before each {@code /metrics} answer
     * @throws IllegalStateException when the port cannot be bound
     */
    public HealthServer(String host, int port, PrometheusMeterRegistry registry, BooleanSupplier ready,
                        Runnable beforeScrape) {
        boolean bound = false;
        try {
            channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpServerCodec()).addLast(new HttpObjectAggregator(8192))
                                    .addLast(new Handler(registry, ready, beforeScrape));
                        }
                    }).bind(host, port).syncUninterruptibly().channel();
            bound = true;
        } catch (Exception e) { // Netty rethrows the bind's checked exception (port in use) unchecked
            throw new IllegalStateException("cannot serve HTTP on " + host + ":" + port + " (" + e.getMessage() + ")", e);
        } finally {
            if (!bound) {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            }
        }
    }

    /** The bound port. */
    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final PrometheusMeterRegistry registry;
        private final BooleanSupplier ready;
        private final Runnable beforeScrape;

        Handler(PrometheusMeterRegistry registry, BooleanSupplier ready, Runnable beforeScrape) {
            this.registry = registry;
            this.ready = ready;
            this.beforeScrape = beforeScrape;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            String path = new QueryStringDecoder(request.uri()).path();
            FullHttpResponse response;
            if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
                response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET and HEAD\n", "text/plain");
            } else {
                response = switch (path) {
                    case "/health" -> text(HttpResponseStatus.OK, "ok\n", "text/plain");
                    case "/ready" -> ready.getAsBoolean() ? text(HttpResponseStatus.OK, "ready\n", "text/plain")
                            : text(HttpResponseStatus.SERVICE_UNAVAILABLE, "not ready\n", "text/plain");
                    case "/metrics" -> {
                        beforeScrape.run();
                        yield text(HttpResponseStatus.OK, registry.scrape(), "text/plain; version=0.0.4; charset=utf-8");
                    }
                    default -> text(HttpResponseStatus.NOT_FOUND, "unknown path; try /health, /ready, /metrics\n",
                            "text/plain");
                };
            }
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setKeepAlive(response, keepAlive);
            var done = ctx.writeAndFlush(response);
            if (!keepAlive) {
                done.addListener(ChannelFutureListener.CLOSE);
            }
        }

        private static FullHttpResponse text(HttpResponseStatus status, String body, String type) {
            ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, type).setInt(HttpHeaderNames.CONTENT_LENGTH,
                    content.readableBytes());
            return r;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
