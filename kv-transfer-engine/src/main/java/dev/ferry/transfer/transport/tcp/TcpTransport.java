package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.NotificationListener;
import dev.ferry.transfer.transport.SessionFences;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.MalformedFrameException;
import dev.ferry.transfer.transport.frame.SliceFrame;
import dev.ferry.transfer.transport.serve.SliceServer;
import dev.ferry.transfer.tls.PortSecurity;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The TCP transport: a server that serves this node's segments to peers, and
 * {@code linksPerPeer} client connections to each peer, each one a link. Its event loops
 * run on the I/O backend asked for ({@link IoBackend}: io_uring, epoll or NIO), or on the
 * next one that can run here ({@link IoSelection}).
 *
 * <p>Thread-safe. Owns its event loops and sockets: {@link #close()} releases them.
 */
public final class TcpTransport implements AutoCloseable {
    private final EventLoopGroup group;
    private final Channel server;
    /** The connections this server accepted: closed one by one at {@link #close}, so every peer sees its end. */
    private final ChannelGroup accepted = new DefaultChannelGroup("ferry-tcp-accepted", GlobalEventExecutor.INSTANCE);
    private final Bootstrap client;
    private final Endpoint localEndpoint;
    private final SliceListener listener;
    private final TcpCounters counters;
    private final Map<List<Endpoint>, TcpPeer> peers = new ConcurrentHashMap<>();
    /** Where the FENCE_SESSIONs served here go: the engine's Aeron receiver, if it has one. */
    private volatile SessionFences sessionFences = SessionFences.NONE;
    private final ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ferry-tcp-probe");
        t.setDaemon(true);
        return t;
    });
    private final int linksPerPeer;
    private final long connectTimeoutMillis;
    private final IoSelection io;
    /**
     * Most bytes Netty reads into its own buffer at a time on the epoll transport (8 KiB).
     * There a slice's payload is read from the socket straight into its destination once its
     * header is in ({@link SliceFrameReader}); what Netty's read takes beyond the header is
     * copied once more, so its reads stay short: with Netty's default of up to 64 KiB, that
     * second copy was 2.75% of both engines' CPU samples moving 1 MiB requests, and with
     * 8 KiB 0.43% (perf record, TcpTransferBenchmark, docs/benchmarks-log.md).
     */
    static final int EPOLL_MAX_READ_BYTES = 8 * 1024;

    private final long stallTimeoutNanos;
    private final long reconnectBackoffNanos;
    private final java.util.concurrent.atomic.LongAdder peersGone = new java.util.concurrent.atomic.LongAdder();
    private final PortSecurity security;

    /**
     * Binds the server socket and starts the event loops.
     *
     * @param segments            the segments served to peers
     * @param listener            receives the outcome of every slice sent
     * @param notifications       receives the notifications peers send
     * @param bindHost            address to listen on, e.g. {@code 127.0.0.1}
     * @param port                port to listen on; 0 picks a free one
     * @param ioThreads           event-loop threads
     * @param linksPerPeer        connections opened to each peer
     * @param connectTimeoutMillis longest wait for a connect, ms
     * @param stallTimeoutNanos   a link with outstanding slices and no progress for this long is cut, ns
     * @throws IllegalStateException naming the port if it is in use or cannot be bound
     */
    public TcpTransport(LocalSegments segments, SliceListener listener, NotificationListener notifications,
                        String bindHost, int port, int ioThreads, int linksPerPeer, long connectTimeoutMillis,
                        long stallTimeoutNanos) {
        this(segments, listener, notifications, bindHost, port, ioThreads, linksPerPeer, connectTimeoutMillis,
                stallTimeoutNanos, PortSecurity.process(), IoBackend.configured());
    }

    /**
     * As {@link #TcpTransport(LocalSegments, SliceListener, NotificationListener, String, int, int, int, long, long)},
     * with the security of its connections, served and made.
     *
     * @param security TLS on every connection, or plain TCP (then only on loopback, unless insecure)
     * @param backend  the I/O backend asked for; the next one that can run here when it cannot ({@link #io()})
     * @throws IllegalStateException also when {@code bindHost} is beyond loopback without TLS
     */
    public TcpTransport(LocalSegments segments, SliceListener listener, NotificationListener notifications,
                        String bindHost, int port, int ioThreads, int linksPerPeer, long connectTimeoutMillis,
                        long stallTimeoutNanos, PortSecurity security, IoBackend backend) {
        security.checkListen("the slice data port", bindHost, port);
        this.security = security;
        this.listener = listener;
        SliceServer slices = new SliceServer(segments, notifications);
        ConnectionFences fences = new ConnectionFences();
        this.counters = new TcpCounters(slices.counters());
        this.linksPerPeer = linksPerPeer;
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.stallTimeoutNanos = stallTimeoutNanos;
        this.reconnectBackoffNanos = TimeUnit.MILLISECONDS.toNanos(200);
        this.prober.scheduleWithFixedDelay(this::probeDownLinks, 250, 250, TimeUnit.MILLISECONDS);
        this.io = IoSelection.select(backend);
        IoBackend used = io.used();
        this.group = new MultiThreadIoEventLoopGroup(ioThreads, used.handlerFactory());
        // Low, so that Netty takes the next piece of a payload only once the kernel has (nearly) all
        // of the one before: a piece is then checksummed while the kernel's copy left it in cache.
        WriteBufferWaterMark waterMark = new WriteBufferWaterMark(ChecksummedPayload.PIECE_BYTES,
                2 * ChecksummedPayload.PIECE_BYTES);
        RecvByteBufAllocator reads = used.readsIntoPlace() ? new AdaptiveRecvByteBufAllocator(64, 1024, EPOLL_MAX_READ_BYTES)
                : new AdaptiveRecvByteBufAllocator();
        try {
            this.server = new ServerBootstrap().group(group).channel(used.serverChannel())
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
                    .childOption(ChannelOption.RECVBUF_ALLOCATOR, reads)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            accepted.add(ch);
                            if (security.isTls()) {
                                // Ciphertext cannot be read into place: full-size reads feed whole TLS records.
                                ch.config().setRecvByteBufAllocator(new AdaptiveRecvByteBufAllocator());
                                security.serve(ch);
                            }
                            ch.pipeline().addLast("chunks", new ChunkedWriteHandler())
                                    .addLast("slices", new SliceServerHandler(slices, counters, fences,
                                            (session, reply) -> sessionFences.fence(session, reply)));
                        }
                    })
                    .bind(bindHost, port).syncUninterruptibly().channel();
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            prober.shutdownNow();
            String why = e instanceof BindException ? "in use" : e.getMessage();
            throw new IllegalStateException("cannot listen on " + bindHost + ":" + port + " (" + why + ")", e);
        }
        this.localEndpoint = new Endpoint(bindHost, ((InetSocketAddress) server.localAddress()).getPort());
        this.client = new Bootstrap().group(group).channel(used.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeoutMillis)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
                .option(ChannelOption.RECVBUF_ALLOCATOR, reads)
                // So that a link sees the peer's FIN as such (TcpLink closes then): a lost connection the
                // peer ended needs no wait for a fence once the peer also refuses connects (TcpPeer#fence).
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // The link adds its answer handler once connected.
                    }
                });
    }

    /** The I/O backend asked for and the one this transport runs on. */
    public IoSelection io() {
        return io;
    }

    /** The server's channel (its class tells the backend it runs on). */
    Channel serverChannel() {
        return server;
    }

    /** Where this node's server listens. */
    public Endpoint localEndpoint() {
        return localEndpoint;
    }

    /**
     * Lost connections taken as fenced without a FENCE_ACK because their peer is gone: it
     * ended the connection itself, and then refused {@value TcpPeer#REFUSALS_FOR_GONE}
     * connects in a row on every endpoint.
     */
    public long fencesOfPeersGone() {
        return peersGone.sum();
    }

    /** Counters of the serving side. */
    public TcpCounters counters() {
        return counters;
    }

    /**
     * Links of the peer at {@code endpoints} ({@code linksPerPeer} connections to each),
     * made and connected on first use (outside the map's update). Blocks up to the connect
     * timeout then: must not run on an event loop.
     */
    public List<? extends Link> links(List<Endpoint> endpoints) {
        TcpPeer peer = peer(endpoints);
        peer.connectFirst();
        return peer.links();
    }

    /**
     * Links of the peer at {@code endpoints}, made on first use without connecting: they
     * stay down until {@link #reconnect} (or the prober) connects them. Never blocks.
     */
    public List<? extends Link> unconnectedLinks(List<Endpoint> endpoints) {
        return peer(endpoints).links();
    }

    private TcpPeer peer(List<Endpoint> endpoints) {
        return peers.computeIfAbsent(List.copyOf(endpoints), this::newPeer); // makes links only: connects run outside
    }

    /**
     * Reconnects the peer's links that are down. Blocks: must not run on an event loop.
     *
     * @return whether any of its links is up
     */
    public boolean reconnect(List<Endpoint> endpoints) {
        TcpPeer peer = peers.get(List.copyOf(endpoints));
        return peer != null && peer.reconnectDown();
    }

    /**
     * Where the {@link dev.ferry.transfer.transport.frame.SliceFrame#FENCE_SESSION}s served here
     * go: the engine's Aeron receiver. Until set (or without Aeron) they are answered at once.
     */
    public void sessionFences(SessionFences fences) {
        this.sessionFences = fences;
    }

    /**
     * Asks the peer at {@code endpoints}, on one of its links that is up, to fence an Aeron
     * session of this engine ({@link dev.ferry.transfer.transport.frame.SliceFrame#FENCE_SESSION}).
     * Never blocks.
     *
     * @return completes on the peer's answer, exceptionally if that link closes first; null if
     *         no link to the peer is up
     */
    public CompletableFuture<Void> fenceSession(List<Endpoint> endpoints, int sessionId, String replyEndpoint) {
        TcpPeer peer = peers.get(List.copyOf(endpoints));
        if (peer == null) {
            return null;
        }
        for (TcpLink link : peer.links()) {
            CompletableFuture<Void> acked = link.sendSessionFence(sessionId, replyEndpoint);
            if (acked != null) {
                return acked;
            }
        }
        return null;
    }

    /**
     * Whether the peer at {@code endpoints} is gone: after a reconnect of its links that are
     * down (past their backoff), none is up and each endpoint refused
     * {@value TcpPeer#REFUSALS_FOR_GONE} connects in a row (nothing listens there). Blocks up to
     * the connect timeout: call it on a healer thread.
     */
    public boolean refusesEverywhere(List<Endpoint> endpoints) {
        TcpPeer peer = peer(endpoints);
        peer.reconnectDown();
        return peer.refusedEverywhere();
    }

    private TcpPeer newPeer(List<Endpoint> endpoints) {
        List<TcpLink> links = new ArrayList<>(linksPerPeer * endpoints.size());
        for (Endpoint endpoint : endpoints) {
            for (int i = 0; i < linksPerPeer; i++) {
                links.add(new TcpLink("tcp:" + endpoint + "#" + i, endpoint, client, listener, stallTimeoutNanos,
                        security));
            }
        }
        // A fence is tried for as long as a reconnect and a stalled answer may take, twice over.
        long fenceTimeoutNanos = 2 * (TimeUnit.MILLISECONDS.toNanos(connectTimeoutMillis) + stallTimeoutNanos);
        return new TcpPeer(links, connectTimeoutMillis, reconnectBackoffNanos, prober, fenceTimeoutNanos, peersGone);
    }

    /** Probes the links that are down, so that a link that comes back is used again. */
    private void probeDownLinks() {
        for (TcpPeer peer : peers.values()) {
            peer.reconnectDown();
        }
    }

    /** Closes every link and the server, then stops the event loops. */
    @Override
    public void close() {
        prober.shutdownNow();
        peers.values().forEach(TcpPeer::close);
        server.close().awaitUninterruptibly();
        // The event loops' shutdown alone left an accepted connection open now and then (its
        // peer's link stayed up with nobody serving it; NotificationAndMetricsTest, 1 run in 4).
        accepted.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
