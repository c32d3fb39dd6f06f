package dev.ferry.store.sidecar;

import dev.ferry.store.block.ParallelCopy;
import dev.ferry.store.client.DirectStoreClient;
import dev.ferry.store.client.LeaseCache;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.master.InProcessMaster;
import dev.ferry.store.master.MasterApi;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterProtocol;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.master.MasterStats;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.metrics.HealthServer;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.node.StoreNode;
import dev.ferry.transfer.TransferEngine;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store node and a store client in one process next to an inference engine, serving the
 * sidecar protocol (docs/protocol.md) on a Unix domain socket and optionally TCP. Local
 * clients register shared-memory files and name (buffer, offset, length) in their requests:
 * the transfer engine moves block bytes straight between those files and the store, never
 * through the socket. With no master address it embeds a master too (a single-host store),
 * which its store client then calls directly.
 *
 * <p>Start it with a {@link Context}; {@link #close()} drains requests in flight, closes
 * the connections (aborting their uncommitted puts), then the node, engine and master.
 *
 * <p>Thread-safe. Owns sockets, threads, the slab and its file: close it.
 */
public final class Sidecar implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Sidecar.class);

    private final Context ctx;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private MasterService masterService;
    private MasterClient masterClient;
    private TransferEngine engine;
    private StoreNode node;
    private DirectStoreClient store;
    private ParallelCopy copier;
    private ExecutorService executor;
    private ScheduledExecutorService sweeper;
    private SidecarServer server;
    private HealthServer http;
    private String masterAddress;
    private volatile boolean closed;
    private volatile MasterStats stats;
    private volatile long statsAt;

    /**
     * Starts every part; on a failure closes what started and throws.
     *
     * @throws IllegalArgumentException when the context is invalid
     * @throws IllegalStateException    when a socket or port cannot be bound, or the master refuses the node
     */
    public Sidecar(Context context) {
        this.ctx = context.conclude();
        try {
            if (ctx.master == null) {
                masterService = new MasterService("127.0.0.1", ctx.masterPort, EvictionPolicy.byName(ctx.policy),
                        ctx.nodeTimeoutMillis);
            }
            MasterAddress m = ctx.master == null ? MasterAddress.of("127.0.0.1", masterService.port())
                    : MasterAddress.parse(ctx.master, ctx.masterClusterId);
            masterAddress = m.toString();
            masterClient = new MasterClient(m, 10_000, ctx.masterReconnectMillis);
            TransferEngine.Context engineContext = new TransferEngine.Context().bindHost(ctx.dataHost)
                    .port(ctx.dataPort).resolver(masterClient).sharedMemory(ctx.sharedMemory)
                    .metrics(registry, ctx.nodeId);
            node = StoreNode.start(new StoreNode.Config(ctx.nodeId, m, ctx.capacityBytes, engineContext, ctx.shmDir,
                    ctx.dataDir, ctx.ssdDir, ctx.ssdCapacityBytes > 0 ? ctx.ssdCapacityBytes : 8 * ctx.capacityBytes,
                    ctx.policy, ctx.heartbeatMillis, ctx.lazySlab, ctx.scrubBytesPerSecond, ctx.masterReconnectMillis));
            engine = node.engine();
            copier = new ParallelCopy(ctx.copyThreads, ParallelCopy.DEFAULT_MIN_BYTES);
            store = new DirectStoreClient(storeMaster(), engine, ctx.leaseMillis, new DirectStoreClient.LocalSegment(
                    node.segment().name(), node.memory(), node::registrations, node.commitIndex()), ctx.leaseCacheMillis,
                    ctx.leaseCacheBytes, copier, ctx.grants);
            SidecarMetrics metrics = new SidecarMetrics(registry);
            metrics.masterCalls(masterClient.callTimes(), java.util.Map.ofEntries(
                    java.util.Map.entry(MasterProtocol.PUT_START, "put_start"),
                    java.util.Map.entry(MasterProtocol.PUT_START_NAMED, "put_start_named"),
                    java.util.Map.entry(MasterProtocol.PUT_COMMIT, "put_commit"),
                    java.util.Map.entry(MasterProtocol.PUT_ABORT, "put_abort"),
                    java.util.Map.entry(MasterProtocol.GET, "get"),
                    java.util.Map.entry(MasterProtocol.RELEASE, "release"),
                    java.util.Map.entry(MasterProtocol.PIN, "pin"),
                    java.util.Map.entry(MasterProtocol.REMOVE, "remove"),
                    java.util.Map.entry(MasterProtocol.EXISTS, "exists"),
                    java.util.Map.entry(MasterProtocol.GRANT, "grant"),
                    java.util.Map.entry(MasterProtocol.PUT_GRANTED, "put_granted")));
            metrics.gauge("ferry.sidecar.leases", "leases held by reads in progress", store::leasesHeld);
            DirectStoreClient swept = store;
            sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "ferry-lease-sweep");
                t.setDaemon(true);
                return t;
            });
            if (store.leaseCache() != null) {
                LeaseCache cache = store.leaseCache();
                metrics.gauge("ferry.sidecar.lease.cache.blocks", "blocks whose leases the sidecar keeps", cache::size);
                metrics.gauge("ferry.sidecar.lease.cache.hits", "gets served from the lease cache", cache::hits);
                metrics.gauge("ferry.sidecar.lease.cache.misses", "gets that asked the master for a lease",
                        cache::misses);
                long period = Math.max(1, ctx.leaseCacheMillis / 4);
                sweeper.scheduleWithFixedDelay(() -> {
                    try {
                        swept.sweepLeases();
                    } catch (RuntimeException e) { // a task that throws is never run again
                        LOG.warn("lease cache sweep failed: {}", e.toString());
                    }
                }, period, period, TimeUnit.MILLISECONDS);
            }
            sweeper.scheduleWithFixedDelay(() -> {
                try {
                    swept.returnIdleGrants();
                } catch (RuntimeException e) { // a task that throws is never run again
                    LOG.warn("returning idle granted space failed: {}", e.toString());
                }
            }, 250, 250, TimeUnit.MILLISECONDS);
            metrics.gauge("ferry.sidecar.granted.puts", "blocks put into space the master granted ahead (one master "
                    + "call per put instead of two)", swept::grantedPuts);
            metrics.gauge("ferry.sidecar.grant.calls", "calls of the master asking for space ahead of puts",
                    swept::grantCalls);
            metrics.gauge("ferry.sidecar.granted.bytes", "space granted ahead of puts and not in use now",
                    swept::grantedBytes);
            ParallelCopy split = copier;
            metrics.gauge("ferry.sidecar.copy.splits", "batches whose copies were split across two threads",
                    split::splits);
            metrics.gauge("ferry.sidecar.copy.helped", "halves of split batches the helper thread copied (the "
                    + "others the request's thread took back, the helper being busy)", split::helped);
            storeGauges(metrics);
            StoreNode own = node;
            DirectStoreClient reader = store;
            metrics.gauge("ferry.sidecar.corrupt.copies", "block copies read whose bytes failed their CRC32C: "
                    + "dropped, never served", reader::corruptCopies);
            metrics.gauge("ferry.store.scrub.bytes", "bytes the node's scrub has re-checked", own::scrubbedBytes);
            metrics.gauge("ferry.store.scrub.corrupt", "corrupt copies the node's scrub found and dropped",
                    own::scrubCorrupt);
            metrics.gauge("ferry.store.slab.populate.seconds", "time spent populating the slab at start",
                    () -> own.populateNanos() / 1e9);
            executor = requestThreads();
            AtomicInteger bufferIds = new AtomicInteger();
            SidecarOps ops = new SidecarOps(store, bufferIds::incrementAndGet, metrics, ctx.maxFrameBytes,
                    ctx.processMemory, copier);
            ops.identify(node.segment().name(), node.segment().endpoint().toString());
            metrics.gauge("ferry.sidecar.buffers.populated.bytes", "bytes of clients' shared buffers populated in the "
                    + "sidecar's mappings, in the background after registration", ops::buffersPopulatedBytes);
            server = new SidecarServer(ctx, ops, metrics, executor, store::abort);
            if (ctx.httpPort >= 0) {
                http = new HealthServer(ctx.httpHost, ctx.httpPort, registry, this::ready);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        LOG.info("sidecar {} serves {} (tcp port {}, http port {}), {} bytes of DRAM, master {}{}", ctx.nodeId,
                ctx.socketPath, tcpPort(), httpPort(), ctx.capacityBytes, masterAddress,
                masterService == null ? "" : " (embedded)");
    }

    /**
     * The threads that serve requests: platform threads of a cached pool (idle ones wait
     * 60 s for the next request), unless {@code -Dferry.sidecar.threads=virtual}. A request
     * blocks on the master's answers and on the copy helper; a platform thread is woken by
     * them directly, a virtual one only after its carrier thread is woken too: 0.2-0.3 ms more
     * per put of 8 x 1 MiB on the development machine (1.13 against 0.81-0.90 ms).
     */
    private static ExecutorService requestThreads() {
        if ("virtual".equals(System.getProperty("ferry.sidecar.threads"))) {
            return Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("ferry-sidecar-", 0).factory());
        }
        return Executors.newCachedThreadPool(Thread.ofPlatform().name("ferry-sidecar-", 0).daemon(true).factory());
    }

    /**
     * The master the store client calls: the embedded one directly (no loopback round trip
     * per call), else the remote one over RPC.
     */
    private MasterApi storeMaster() {
        MasterService embedded = masterService;
        if (embedded == null) {
            return masterClient;
        }
        MasterClient resolver = masterClient;
        return new InProcessMaster(embedded.master(), segment -> {
            resolver.forgetSegment(segment); // as MasterClient.suspect does
            return embedded.suspect(segment);
        });
    }

    /** The store's counts (from the master, one call a second at most): hits per tier, moves, evictions. */
    private void storeGauges(SidecarMetrics metrics) {
        metrics.gauge("ferry.store.blocks", "committed blocks in the store", () -> storeStats().blocks());
        metrics.gauge("ferry.store.hits.dram", "prefix hits on blocks in DRAM", () -> storeStats().dramHits());
        metrics.gauge("ferry.store.hits.ssd", "prefix hits on blocks only on SSD", () -> storeStats().ssdHits());
        metrics.gauge("ferry.store.evictions", "blocks evicted", () -> storeStats().evictions());
        metrics.gauge("ferry.store.demotions", "blocks demoted from DRAM to SSD", () -> storeStats().demotions());
        metrics.gauge("ferry.store.promotions", "blocks promoted from SSD to DRAM", () -> storeStats().promotions());
        metrics.gauge("ferry.store.leases", "leases held in the whole store", () -> storeStats().leases());
        metrics.gauge("ferry.store.corrupt.copies", "copies dropped in the whole store because their bytes failed "
                + "their CRC32C", () -> storeStats().corruptCopies());
    }

    private MasterStats storeStats() {
        long now = System.nanoTime();
        MasterStats cached = stats;
        if (cached == null || now - statsAt > 1_000_000_000L) {
            try {
                cached = masterClient.stats();
            } catch (RuntimeException e) {
                cached = cached != null ? cached
                        : new MasterStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            }
            stats = cached;
            statsAt = now;
        }
        return cached;
    }

    /** Whether it serves: started, not closing, and its node registered with a reachable master. */
    public boolean ready() {
        return !closed && server != null && node != null && node.registered();
    }

    /** The store node's slab file. */
    public Path slabFile() {
        return node.slabFile();
    }

    /** The page size its slab got: {@code 2MiB}, {@code 4KiB} or {@code lazy} (see {@link StoreNode#slabPageSize()}). */
    public String slabPageSize() {
        return node.slabPageSize();
    }

    /** Time spent populating the slab at start, ns (0 for a lazy slab). */
    public long populateNanos() {
        return node.populateNanos();
    }

    /** The Unix socket's path. */
    public Path socketPath() {
        return ctx.socketPath;
    }

    /** The TCP port, or -1 when TCP is off. */
    public int tcpPort() {
        return server == null ? -1 : server.tcpPort();
    }

    /** The HTTP port of health and metrics, or -1 when off. */
    public int httpPort() {
        return http == null ? -1 : http.port();
    }

    /** The master's address, {@code host:port} or {@code etcd://...} (the embedded one's when none was given). */
    public String masterAddress() {
        return masterAddress;
    }

    /** Requests being served now. */
    public int inFlight() {
        return server == null ? 0 : server.inFlight();
    }

    /** The meters (Prometheus registry). */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /**
     * A {@link dev.ferry.store.client.StoreClient} over this sidecar's transfer engine and
     * master: the same store without the socket, for an engine that embeds the sidecar in
     * its own JVM (and for benchmarks of the socket's cost). Thread-safe.
     */
    public dev.ferry.store.client.StoreClient storeClient() {
        return new dev.ferry.store.client.StoreClient(masterClient, engine, ctx.leaseMillis);
    }

    /** The embedded master, or null when it uses a remote one (for tests and in-process use). */
    public MasterService embeddedMaster() {
        return masterService;
    }

    /**
     * Drains and stops: stops accepting, lets requests in flight finish (up to the drain
     * timeout), closes the connections and aborts their uncommitted puts, then closes the
     * node (removing its slab file), the engine and the master. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(http);
        closeQuietly(server);
        if (executor != null) {
            executor.close(); // waits for the aborts of closed sessions
        }
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
        closeQuietly(store); // returns the cached leases
        closeQuietly(copier);
        closeQuietly(node); // and its engine
        closeQuietly(masterClient);
        closeQuietly(masterService);
        registry.close();
        LOG.info("sidecar {} stopped", ctx.nodeId);
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            LOG.warn("error while closing {}: {}", c, e.toString());
        }
    }

    /**
     * Configuration of a sidecar, with fluent setters and defaults; {@link #conclude()}
     * validates it. Not thread-safe.
     */
    public static final class Context {
        /** Default largest frame, bytes (16 MiB). */
        public static final int DEFAULT_MAX_FRAME_BYTES = 16 << 20;

        private Path socketPath = Path.of(System.getProperty("java.io.tmpdir"), "ferry-sidecar.sock");
        private String tcpHost = "127.0.0.1";
        private int tcpPort = -1;
        private String token;
        private dev.ferry.transfer.tls.PortSecurity security;
        private String master;
        private String masterClusterId;
        private int masterPort;
        private String nodeId = "sidecar-" + ProcessHandle.current().pid();
        private long capacityBytes = 1L << 30;
        private Path shmDir = Path.of("/dev/shm");
        private String dataHost = "127.0.0.1";
        private int dataPort;
        private int maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
        private int maxInFlight = 64;
        private long quotaBytes = 16L << 30;
        private long leaseMillis = 10_000;
        private long leaseCacheMillis = -1;
        private long leaseCacheBytes = -1;
        private long drainMillis = 10_000;
        private long frameTimeoutMillis = 10_000;
        private String httpHost = "127.0.0.1";
        private int httpPort = -1;
        private String policy = "lru";
        private long heartbeatMillis = 300;
        private long masterReconnectMillis = MasterClient.FOLLOW_LEASE_TTL;
        private Path dataDir;
        private boolean lazySlab;
        private long scrubBytesPerSecond = StoreNode.Config.DEFAULT_SCRUB_BYTES_PER_SECOND;
        private boolean processMemory = true;
        private int copyThreads = 2;
        private boolean grants = true;

        /**
         * Threads that copy the values of one large batch (PUT_NAMED, PUT_FROM of at least two
         * values and 4 MiB together): 2 (default) splits each such batch in two halves, one on
         * a helper thread shared by the sidecar's requests; 1 copies every batch on its
         * request's thread.
         *
         * Checked at start: anything but 1 or 2 is refused there ({@link IllegalArgumentException}).
         */
        public Context copyThreads(int threads) {
            this.copyThreads = threads;
            return this;
        }

        /**
         * Whether PUT_FROM and GET_INTO may copy straight from and to a local client's private
         * memory (process_vm_readv / writev; default true); false answers such requests
         * NO_PROCESS_ACCESS, and clients copy through their shared buffers instead.
         */
        public Context processMemory(boolean enabled) {
            this.processMemory = enabled;
            return this;
        }

        /**
         * Leaves the slab's pages to be faulted in by their first writes instead of populating
         * the slab at start (default false: populated).
         */
        public Context lazySlab(boolean lazy) {
            this.lazySlab = lazy;
            return this;
        }

        /** Most bytes per second the node's scrub re-checks; 0 for none (default 64 MiB/s). */
        public Context scrubBytesPerSecond(long bytesPerSecond) {
            this.scrubBytesPerSecond = bytesPerSecond;
            return this;
        }
        private Path ssdDir;
        private long ssdCapacityBytes;
        private long nodeTimeoutMillis = 2_000;
        private boolean sharedMemory = true;

        /** Unix socket path (default {@code $TMPDIR/ferry-sidecar.sock}). */
        public Context socketPath(Path path) {
            this.socketPath = path;
            return this;
        }

        /** Also serve TCP on {@code host:port} (port 0 picks one; -1, the default, is off). */
        public Context tcp(String host, int port) {
            this.tcpHost = host;
            this.tcpPort = port;
            return this;
        }

        /**
         * The security of the TCP port (default the process's,
         * {@link dev.ferry.transfer.tls.PortSecurity#process()}, which the embedded master and
         * store node follow): a TCP port beyond loopback needs TLS, or insecure.
         */
        public Context security(dev.ferry.transfer.tls.PortSecurity security) {
            this.security = security;
            return this;
        }

        /** Token TCP clients must send in HELLO (none by default): a check at connect, on top of TLS. */
        public Context token(String token) {
            this.token = token;
            return this;
        }

        /**
         * A remote master, {@code host:port} or {@code etcd://HOST:PORT[,HOST:PORT...]/CLUSTER-ID};
         * null (the default) embeds one.
         */
        public Context master(String address) {
            this.master = address;
            return this;
        }

        /** The masters' cluster id in etcd, for an etcd address that names none (default null). */
        public Context masterClusterId(String clusterId) {
            this.masterClusterId = clusterId;
            return this;
        }

        /**
         * How long a call to the master keeps trying to reach a master that went away (a
         * restart), ms (default {@link MasterClient#FOLLOW_LEASE_TTL}).
         */
        public Context masterReconnectMillis(long millis) {
            this.masterReconnectMillis = millis;
            return this;
        }

        /** Port of the embedded master (default 0: a free one). */
        public Context masterPort(int port) {
            this.masterPort = port;
            return this;
        }

        /** This store node's name (default {@code sidecar-<pid>}). */
        public Context nodeId(String id) {
            this.nodeId = id;
            return this;
        }

        /** DRAM slab size, bytes (default 1 GiB). */
        public Context capacityBytes(long bytes) {
            this.capacityBytes = bytes;
            return this;
        }

        /** Where the slab file lives (default /dev/shm). */
        public Context shmDir(Path dir) {
            this.shmDir = dir;
            return this;
        }

        /** Address and port of the transfer engine's data links (default 127.0.0.1, a free port). */
        public Context data(String host, int port) {
            this.dataHost = host;
            this.dataPort = port;
            return this;
        }

        /** Largest frame, bytes, length field included (default 16 MiB). */
        public Context maxFrameBytes(int bytes) {
            this.maxFrameBytes = bytes;
            return this;
        }

        /** Requests served at once per connection; more wait unread (default 64). */
        public Context maxInFlight(int requests) {
            this.maxInFlight = requests;
            return this;
        }

        /** Bytes of shared buffers one connection may register (default 16 GiB). */
        public Context quotaBytes(long bytes) {
            this.quotaBytes = bytes;
            return this;
        }

        /** Lease TTL of reads, ms (default 10 s, as Mooncake). */
        public Context leaseMillis(long millis) {
            this.leaseMillis = millis;
            return this;
        }

        /**
         * How long the lease of a read of blocks in the sidecar's own segment keeps serving
         * further reads of them with no call to the master, ms (default 1 s, and at most half
         * the lease TTL); 0 turns the lease cache off. See {@link LeaseCache}.
         */
        public Context leaseCacheMillis(long millis) {
            this.leaseCacheMillis = millis;
            return this;
        }

        /**
         * Whether puts into the sidecar's own node use space the master grants ahead (default
         * true: one master call per put instead of two; see {@code LocalGrants}). That space
         * counts as used until a put takes it, so a full store evicts a little earlier than
         * without; off, the store's eviction order is exactly that of store nodes without sidecars.
         */
        public Context grants(boolean on) {
            this.grants = on;
            return this;
        }

        /** Most bytes of blocks the lease cache keeps pinned at once (default: an eighth of the capacity). */
        public Context leaseCacheBytes(long bytes) {
            this.leaseCacheBytes = bytes;
            return this;
        }

        /**
         * Longest a connection may stay silent with a frame half sent, or without passing the
         * descriptor REGISTER_MEMFD announced, ms (default 10 s): past it the connection is
         * answered MALFORMED (request id 0) and closed. Time the sidecar itself stops reading
         * (back pressure) does not count.
         */
        public Context frameTimeoutMillis(long millis) {
            this.frameTimeoutMillis = millis;
            return this;
        }

        /** Longest wait for requests in flight at shutdown, ms (default 10 s). */
        public Context drainMillis(long millis) {
            this.drainMillis = millis;
            return this;
        }

        /** Serve /health, /ready, /metrics on {@code host:port} (port 0 picks one; -1, the default, is off). */
        public Context http(String host, int port) {
            this.httpHost = host;
            this.httpPort = port;
            return this;
        }

        /** Eviction policy of the embedded master: lru or s3fifo (default lru). */
        public Context policy(String name) {
            this.policy = name;
            return this;
        }

        /**
         * Whether blocks on other store nodes of this host move through a mapping of their
         * slab files (default) rather than over TCP.
         */
        public Context sharedMemory(boolean enabled) {
            this.sharedMemory = enabled;
            return this;
        }

        /**
         * Keeps the DRAM slab and the block index in {@code dir} (on /dev/shm), so that a
         * sidecar started again, after SIGKILL too, serves the blocks it held; null (default)
         * starts empty every time.
         */
        public Context dataDir(Path dir) {
            this.dataDir = dir;
            return this;
        }

        /**
         * Gives the sidecar's node an SSD tier (RocksDB with BlobDB) in {@code dir}, of
         * {@code bytes} (0: 8 times the DRAM capacity); null (default) for DRAM only.
         */
        public Context ssd(Path dir, long bytes) {
            this.ssdDir = dir;
            this.ssdCapacityBytes = bytes;
            return this;
        }

        /** Heartbeat period of the node, ms (default 300). */
        public Context heartbeatMillis(long millis) {
            this.heartbeatMillis = millis;
            return this;
        }

        String token() {
            return token;
        }

        dev.ferry.transfer.tls.PortSecurity security() {
            return security;
        }

        int tcpPort() {
            return tcpPort;
        }

        String tcpHost() {
            return tcpHost;
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

        long frameTimeoutMillis() {
            return frameTimeoutMillis;
        }

        long drainMillis() {
            return drainMillis;
        }

        Path socketPath() {
            return socketPath;
        }

        /**
         * Validates and fills defaults.
         *
         * @throws IllegalArgumentException naming the bad setting
         */
        Context conclude() {
            if (copyThreads != 1 && copyThreads != 2) {
                throw new IllegalArgumentException("copy threads must be 1 or 2, not " + copyThreads);
            }
            if (socketPath == null || socketPath.getParent() == null || !Files.isDirectory(socketPath.getParent())) {
                throw new IllegalArgumentException("socket path " + socketPath + " must be in an existing directory");
            }
            socketPath = socketPath.toAbsolutePath();
            if (socketPath.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 100) {
                throw new IllegalArgumentException("socket path " + socketPath + " is longer than a Unix socket "
                        + "allows (about 100 bytes)");
            }
            if (security == null) {
                security = dev.ferry.transfer.tls.PortSecurity.process();
            }
            if (tcpPort >= 0) {
                isLoopback(tcpHost); // an unknown host is a bad setting
                try {
                    // A token is checked at connect only; every frame after it needs TLS to be the peer's.
                    security.checkListen("the sidecar's TCP port", tcpHost, tcpPort);
                } catch (IllegalStateException e) {
                    throw new IllegalArgumentException(e.getMessage(), e);
                }
            }
            if (maxFrameBytes < 4096) {
                throw new IllegalArgumentException("max frame must be at least 4096 bytes, was " + maxFrameBytes);
            }
            if (maxInFlight < 1 || quotaBytes < 0 || capacityBytes < 4096 || leaseMillis < 1 || drainMillis < 0
                    || frameTimeoutMillis < 1) {
                throw new IllegalArgumentException("max in flight, lease, frame timeout must be >= 1; quota, drain >= 0; capacity "
                        + ">= 4096 bytes");
            }
            if (leaseCacheMillis < 0) {
                leaseCacheMillis = Math.min(1_000, leaseMillis / 2);
            } else if (leaseCacheMillis > leaseMillis / 2) {
                throw new IllegalArgumentException("lease cache time " + leaseCacheMillis + " ms exceeds half the "
                        + "lease TTL (" + leaseMillis / 2 + " ms)");
            }
            if (leaseCacheBytes < 0) {
                leaseCacheBytes = Math.max(1, capacityBytes / 8);
            } else if (leaseCacheBytes == 0) {
                leaseCacheMillis = 0;
            }
            if (!Files.isDirectory(shmDir)) {
                throw new IllegalArgumentException("shared-memory directory " + shmDir + " does not exist");
            }
            EvictionPolicy.byName(policy);
            return this;
        }

        private static boolean isLoopback(String host) {
            try {
                return InetAddress.getByName(host).isLoopbackAddress();
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("unknown TCP host '" + host + "'");
            }
        }
    }
}
