package dev.ferry.store.sidecar;

import dev.ferry.store.block.BlockKey;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Serves the sidecar protocol on a Unix domain socket (created owner-only, 0600) and,
 * optionally, on TCP (mutual TLS when its {@code PortSecurity} says so: required beyond
 * loopback), over Netty (epoll where present, so that the Unix socket can receive
 * memfds with SCM_RIGHTS; NIO otherwise). Each connection gets a {@link ConnectionHandler} and a
 * {@link ClientSession}; requests run on the given executor.
 *
 * <p>{@link #close()} drains: it stops accepting and removes the socket file, answers new
 * requests with SHUTTING_DOWN, waits (up to the drain timeout) for requests in flight to
 * finish, then tells every connection why (SHUTTING_DOWN, request id 0) and closes it
 * (their sessions abort what they left uncommitted).
 *
 * <p>Thread-safe. Owns sockets and an event loop: close it.
 */
final class SidecarServer implements AutoCloseable {
    /**
     * Bytes one connection may hold, in units of the largest frame: its requests read and
     * not finished, the answers GET_INLINE may build, its answers not yet taken by the socket.
     * Past it the sidecar stops reading the connection (back pressure), so that a client that
     * does not read its answers cannot exhaust the memory of all.
     */
    static final int CONNECTION_FRAMES = 4;

    private final SidecarOps ops;
    private final SidecarMetrics metrics;
    private final Executor executor;
    private final Consumer<BlockKey[]> abandon;
    private final String token;
    private final int maxFrameBytes;
    private final int maxInFlight;
    private final long quotaBytes;
    private final long drainMillis;
    private final long frameTimeoutMillis;
    private final long connectionBytes;
    /** The sidecar's user id: only a peer of this user may share memory. */
    private final int uid;
    private final Path socketPath;
    /** Epoll where present: its Unix sockets can receive file descriptors (memfd buffers). */
    private final boolean epoll = Epoll.isAvailable();
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, epoll ? EpollIoHandler.newFactory()
            : NioIoHandler.newFactory());
    private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final Set<ClientSession> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicLong sessionIds = new AtomicLong();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Object idle = new Object();
    private final Channel udsChannel;
    private final Channel tcpChannel;
    private volatile boolean draining;

    /**
     * @param abandon aborts the uncommitted puts of a closed session (runs on the executor)
     * @throws IllegalStateException when a socket cannot be bound (path or port in use)
     */
    SidecarServer(Sidecar.Context ctx, SidecarOps ops, SidecarMetrics metrics, Executor executor,
                  Consumer<BlockKey[]> abandon) {
        this.ops = ops;
        this.metrics = metrics;
        this.executor = executor;
        this.abandon = abandon;
        this.token = ctx.token();
        this.maxFrameBytes = ctx.maxFrameBytes();
        this.maxInFlight = ctx.maxInFlight();
        this.quotaBytes = ctx.quotaBytes();
        this.drainMillis = ctx.drainMillis();
        this.frameTimeoutMillis = ctx.frameTimeoutMillis();
        this.connectionBytes = CONNECTION_FRAMES * (long) maxFrameBytes;
        this.uid = ownUid();
        this.socketPath = ctx.socketPath();
        Channel uds = null;
        try {
            uds = bindUnix(socketPath);
            this.udsChannel = uds;
            this.tcpChannel = ctx.tcpPort() < 0 ? null
                    : bind(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class, ctx.security())
                    .bind(ctx.tcpHost(), ctx.tcpPort()).syncUninterruptibly().channel();
        } catch (RuntimeException e) {
            if (uds != null) {
                uds.close().awaitUninterruptibly();
                deleteSocket();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e instanceof IllegalStateException ? e : new IllegalStateException("cannot listen: " + e, e);
        }
        metrics.gauge("ferry.sidecar.connections", "client connections open", sessions::size);
        metrics.gauge("ferry.sidecar.inflight", "requests being served", inFlight::get);
        metrics.gauge("ferry.sidecar.buffers.bytes", "bytes of shared buffers registered by clients",
                () -> sessions.stream().mapToLong(ClientSession::registeredBytes).sum());
        metrics.gauge("ferry.sidecar.puts.pending", "blocks being written in ranges (started, not committed)",
                () -> sessions.stream().mapToInt(ClientSession::pendingCount).sum());
    }

    private ServerBootstrap bind(Class<? extends ServerChannel> type) {
        return bind(type, dev.ferry.transfer.tls.PortSecurity.loopbackOnly()); // a Unix socket: its file mode guards it
    }

    /** @param security TLS on each accepted connection, or none */
    private ServerBootstrap bind(Class<? extends ServerChannel> type, dev.ferry.transfer.tls.PortSecurity security) {
        return new ServerBootstrap().group(group).channel(type)
                .childOption(io.netty.channel.ChannelOption.WRITE_BUFFER_WATER_MARK,
                        new io.netty.channel.WriteBufferWaterMark((int) Math.min(Integer.MAX_VALUE, connectionBytes / 2),
                                (int) Math.min(Integer.MAX_VALUE, connectionBytes)))
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        channels.add(ch);
                        security.serve(ch);
                        SidecarFrames.Decoder decoder = SidecarFrames.decoder(maxFrameBytes);
                        ch.pipeline().addLast(decoder)
                                .addLast(new ConnectionHandler(SidecarServer.this, executor, decoder));
                    }
                });
    }

    /**
     * Binds under a temporary name, restricts it to the owner, then renames it into place,
     * so that the socket is never reachable at its path with wider permissions.
     */
    private Channel bindUnix(Path path) {
        clearStaleSocket(path);
        Path tmp = path.resolveSibling("." + path.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        try {
            Files.deleteIfExists(tmp);
            Channel ch = epoll
                    ? bind(EpollServerDomainSocketChannel.class).bind(new DomainSocketAddress(tmp.toString()))
                            .syncUninterruptibly().channel()
                    : bind(NioServerDomainSocketChannel.class).bind(UnixDomainSocketAddress.of(tmp))
                            .syncUninterruptibly().channel();
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
            return ch;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the socket " + path + ": " + e.getMessage(), e);
        }
    }

    /** Removes a socket file nobody listens on (left by a crash); refuses one that is served. */
    private static void clearStaleSocket(Path path) {
        if (!Files.exists(path)) {
            return;
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new IllegalStateException("another process serves " + path + " (stop it or pick another --socket)");
        } catch (IOException refused) {
            try {
                Files.delete(path);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove the stale socket " + path, e);
            }
        }
    }

    /** Whether connections on the Unix socket can pass file descriptors (epoll). */
    boolean passesFileDescriptors() {
        return epoll;
    }

    /** The Unix socket's path. */
    Path socketPath() {
        return socketPath;
    }

    /** The TCP port, or -1 when TCP is off. */
    int tcpPort() {
        return tcpChannel == null ? -1 : ((InetSocketAddress) tcpChannel.localAddress()).getPort();
    }

    private static int ownUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException e) {
            return -1; // no peer is then of this user: no shared buffers
        }
    }

    /** The sidecar's user id, or -1 when unknown. */
    int uid() {
        return uid;
    }

    /** Most bytes a connection may hold before its socket is no longer read ({@link #CONNECTION_FRAMES}). */
    long connectionBytes() {
        return connectionBytes;
    }

    /** Longest a started frame (or an announced memfd) may take to arrive, ms. */
    long frameTimeoutMillis() {
        return frameTimeoutMillis;
    }

    /**
     * @param local   whether the peer may share memory (Unix socket, the sidecar's user)
     * @param peerPid the peer's process id, -1 when unknown
     */
    ClientSession openSession(boolean local, long peerPid) {
        ClientSession s = new ClientSession(sessionIds.incrementAndGet(), local, peerPid, quotaBytes);
        sessions.add(s);
        return s;
    }

    /** The connection closed: unmap its buffers once unused, abort its uncommitted puts. */
    void closeSession(ClientSession s) {
        sessions.remove(s);
        BlockKey[] pending = s.close();
        if (pending.length > 0) {
            requestStarted();
            try {
                executor.execute(() -> {
                    try {
                        abandon.accept(pending);
                    } finally {
                        requestEnded();
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                requestEnded(); // shutting down: the master reclaims them after its put timeout
            }
        }
    }

    void requestStarted() {
        inFlight.incrementAndGet();
    }

    void requestEnded() {
        if (inFlight.decrementAndGet() == 0) {
            synchronized (idle) {
                idle.notifyAll();
            }
        }
    }

    /** Client connections open now (a closed one's session may outlive it while its requests finish). */
    int openConnections() {
        return channels.size();
    }

    /**
     * Waits until every event loop has run what was queued on it before this call and what
     * that queued in turn (two rounds of empty tasks): for tests that must observe the
     * effects of a close.
     */
    void quiesceEventLoops() {
        for (int round = 0; round < 2; round++) {
            for (io.netty.util.concurrent.EventExecutor loop : group) {
                loop.submit(() -> { }).syncUninterruptibly();
            }
        }
    }

    /** Requests being served now. */
    int inFlight() {
        return inFlight.get();
    }

    boolean draining() {
        return draining;
    }

    SidecarOps ops() {
        return ops;
    }

    SidecarMetrics metrics() {
        return metrics;
    }

    String token() {
        return token;
    }

    int maxFrameBytes() {
        return maxFrameBytes;
    }

    int maxInFlight() {
        return maxInFlight;
    }

    long quotaBytes() {
        return quotaBytes;
    }

    @Override
    public void close() {
        draining = true;
        udsChannel.close().awaitUninterruptibly();
        deleteSocket(); // at once: new clients fail fast, and a successor may bind the path
        if (tcpChannel != null) {
            tcpChannel.close().awaitUninterruptibly();
        }
        awaitIdle(drainMillis);
        // Every connection learns why it closes, idle ones too: request id 0 is the connection's.
        for (Channel ch : channels) {
            ch.writeAndFlush(SidecarFrames.error(ch.alloc(), 0, 0, SidecarProtocol.SHUTTING_DOWN,
                    "the sidecar is shutting down; reconnect to its successor"));
        }
        channels.close().awaitUninterruptibly();
        awaitIdle(drainMillis); // aborts of the sessions just closed
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        ops.close();
    }

    private void awaitIdle(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        synchronized (idle) {
            long left;
            while (inFlight.get() > 0 && (left = deadline - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(idle, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void deleteSocket() {
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException ignored) {
            // nothing more to do on the way out
        }
    }
}
