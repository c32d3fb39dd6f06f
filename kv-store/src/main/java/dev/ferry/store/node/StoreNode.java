package dev.ferry.store.node;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.index.BlockIndex;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.master.IndexUpdate;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.NodeFeatures;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.RpcServer;
import dev.ferry.store.rpc.Wire;
import dev.ferry.store.tier.SsdTier;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store node: one DRAM slab, backed by a file under {@code /dev/shm}, registered with the
 * transfer engine and the master as the segment {@code <node id>/dram}, an optional SSD
 * tier, and a heartbeat that registers the node again whenever the master has forgotten
 * it (a master restart, or the node was declared dead).
 *
 * <p>The node keeps a {@link BlockIndex} of the blocks committed in its segment: it follows
 * the master's commits and removals ({@link IndexUpdate}s, taken by an index poll that the
 * master answers as soon as there are some, and in the heartbeat answers; applied in order
 * and acknowledged in the next poll). The master acknowledges a commit to its writer only
 * once the node has it in its index. When the master restarts, the node registers again
 * with every indexed block whose CRC32C still matches the slab (and every block of its SSD
 * tier), and the master serves them again.
 *
 * <p>With a data directory the node is persistent: the slab file ({@code dram.slab}) and the
 * index ({@code index-v2.cmap}) live there and outlive the process. When the node starts again,
 * after a clean stop or a SIGKILL, it checks every indexed block's CRC32C against the slab,
 * drops (and counts) the ones that do not match, and registers the rest: every block whose
 * commit was acknowledged before the kill comes back. Without a data directory the index is
 * in memory and the slab file is private to the process and removed on close.
 *
 * <p>The slab is populated at start (every page faulted in once, so that writes into it take
 * no page fault) unless the configuration asks for a lazy one. A non-persistent slab file is
 * named for the node and its pid; slab files of pids no longer alive in the same directory
 * (nodes that were killed) are removed at start. A {@link Scrubber} re-checks the blocks in
 * the slab against their CRC32C at a bounded rate and has the master drop corrupt copies.
 *
 * <p>With an SSD directory the node has an {@link SsdTier}: the master demotes cold blocks
 * to it and readers promote them back through the node's RPC server ({@link NodeProtocol}).
 *
 * <p>Thread-safe. Owns the slab, the engine, the tiers, an RPC server, a master connection
 * and threads: close it.
 */
public final class StoreNode implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StoreNode.class);

    /**
     * @param nodeId           unique node name
     * @param master           master RPC address, fixed or through etcd
     * @param capacityBytes    DRAM slab size, bytes
     * @param engine           transfer engine settings (bind host, port, Aeron, advertised addresses)
     * @param shmDir           where a non-persistent slab file lives
     * @param dataDir          directory for the persistent slab and index, or null
     * @param ssdDir           directory of the SSD tier (RocksDB), or null for none
     * @param ssdCapacityBytes SSD tier capacity, bytes
     * @param ssdPolicy        the SSD tier's eviction policy ({@code lru}, {@code s3fifo})
     * @param heartbeatMillis  heartbeat period, ms
     * @param lazySlab         leave the slab's pages to be faulted in by the first write of
     *                         each (a faster start; slower first writes) instead of populating
     *                         the whole slab at start
     * @param scrubBytesPerSecond most bytes per second the background scrub re-checks; 0 for no scrub
     * @param masterReconnectMillis how long a call to the master keeps trying to reach a master
     *                         that went away, ms ({@link MasterClient#FOLLOW_LEASE_TTL} by default)
     */
    public record Config(String nodeId, MasterAddress master, long capacityBytes, TransferEngine.Context engine,
                         Path shmDir, Path dataDir, Path ssdDir, long ssdCapacityBytes, String ssdPolicy,
                         long heartbeatMillis, boolean lazySlab, long scrubBytesPerSecond, long masterReconnectMillis) {
        /** The scrub's default rate: 64 MiB/s. */
        public static final long DEFAULT_SCRUB_BYTES_PER_SECOND = 64L << 20;

        /**
         * @throws IllegalArgumentException when {@code scrubBytesPerSecond} is negative
         */
        public Config {
            if (scrubBytesPerSecond < 0) {
                throw new IllegalArgumentException("scrub rate must be >= 0 bytes/s (0: off), was "
                        + scrubBytesPerSecond);
            }
        }

        /** A fixed master. */
        public Config(String nodeId, HostPort master, long capacityBytes, TransferEngine.Context engine, Path shmDir,
                      Path dataDir, Path ssdDir, long ssdCapacityBytes, String ssdPolicy, long heartbeatMillis,
                      boolean lazySlab, long scrubBytesPerSecond, long masterReconnectMillis) {
            this(nodeId, MasterAddress.of(master.host(), master.port()), capacityBytes, engine, shmDir, dataDir, ssdDir,
                    ssdCapacityBytes, ssdPolicy, heartbeatMillis, lazySlab, scrubBytesPerSecond, masterReconnectMillis);
        }

        /** With the default reconnect deadline. */
        public Config(String nodeId, HostPort master, long capacityBytes, TransferEngine.Context engine, Path shmDir,
                      Path dataDir, Path ssdDir, long ssdCapacityBytes, String ssdPolicy, long heartbeatMillis,
                      boolean lazySlab, long scrubBytesPerSecond) {
            this(nodeId, master, capacityBytes, engine, shmDir, dataDir, ssdDir, ssdCapacityBytes, ssdPolicy,
                    heartbeatMillis, lazySlab, scrubBytesPerSecond, MasterClient.FOLLOW_LEASE_TTL);
        }

        /** A populated slab, the default scrub and the default reconnect deadline. */
        public Config(String nodeId, HostPort master, long capacityBytes, TransferEngine.Context engine, Path shmDir,
                      Path dataDir, Path ssdDir, long ssdCapacityBytes, String ssdPolicy, long heartbeatMillis) {
            this(nodeId, master, capacityBytes, engine, shmDir, dataDir, ssdDir, ssdCapacityBytes, ssdPolicy,
                    heartbeatMillis, false, DEFAULT_SCRUB_BYTES_PER_SECOND, MasterClient.FOLLOW_LEASE_TTL);
        }

        /** Without an SSD tier. */
        public Config(String nodeId, HostPort master, long capacityBytes, TransferEngine.Context engine, Path shmDir,
                      Path dataDir, long heartbeatMillis) {
            this(nodeId, master, capacityBytes, engine, shmDir, dataDir, null, 0, "lru", heartbeatMillis);
        }
    }

    private final Config config;
    private final Slab slab;
    private final NodeTiers tiers;
    private final TransferEngine engine;
    private final MasterClient master;
    private final ExecutorService rpcExecutor;
    private final RpcServer rpc;
    private final SegmentDescriptor segment;
    private final NodeFeatures features;
    private final ScheduledExecutorService heartbeats;
    private final int recovered;
    private final int dropped;
    private final long populateNanos;
    private final Scrubber scrubber;
    private volatile boolean registered = true;
    private final AtomicBoolean extraBeat = new AtomicBoolean();
    /** Longest wait of one index poll, ms. */
    private static final long POLL_MILLIS = 1_000;
    private final Thread indexPoll;
    /** Held to register again (write) and to poll the index (read): see {@link #pollIndex()}. */
    private final java.util.concurrent.locks.ReentrantReadWriteLock registering =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    private volatile boolean closing;
    /** Bumped before every registration after the first: see {@link #registrations()}. */
    private final AtomicLong registrations = new AtomicLong();

    private StoreNode(Config config, Slab slab, long populateNanos, NodeTiers tiers, TransferEngine engine,
                      MasterClient master, ExecutorService rpcExecutor, RpcServer rpc) {
        this.config = config;
        this.populateNanos = populateNanos;
        this.slab = slab;
        this.tiers = tiers;
        this.engine = engine;
        this.master = master;
        this.rpcExecutor = rpcExecutor;
        this.rpc = rpc;
        this.segment = engine.registerSegment(config.nodeId() + "/dram", slab);
        // A scrubbing node wants the master's index updates: they say which blocks to check.
        this.features = new NodeFeatures(tiers.indexed() || config.scrubBytesPerSecond() > 0, tiers.ssdBytes(),
                rpc == null ? "" : segment.endpoint().host() + ":" + rpc.port());
        AtomicLong bad = new AtomicLong();
        List<IndexedBlock> kept = tiers.kept(bad);
        this.dropped = (int) bad.get();
        if (dropped > 0) {
            LOG.warn("store node {}: {} indexed blocks no longer match their CRC32C and were dropped", config.nodeId(),
                    dropped);
        }
        this.recovered = master.register(config.nodeId(), segment, features, kept);
        this.heartbeats = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "ferry-heartbeat"));
        heartbeats.scheduleWithFixedDelay(this::beat, config.heartbeatMillis(), config.heartbeatMillis(),
                TimeUnit.MILLISECONDS);
        tiers.onDemotionsWritten(this::beatSoon);
        this.scrubber = config.scrubBytesPerSecond() == 0 ? null : new Scrubber(config.nodeId(), segment.name(),
                slab.memory(), tiers.resident(), master, config.scrubBytesPerSecond());
        this.indexPoll = new Thread(this::pollIndex, "ferry-index-poll");
        indexPoll.setDaemon(true);
        indexPoll.start();
    }

    /**
     * Takes the master's index updates as soon as they are queued (one round trip per
     * commit), so that a commit is in this node's index before the writer hears it is done.
     * Heartbeat answers carry the same updates; whichever comes first is applied. A commit
     * from this node's own process hands them back in its answer ({@link #commitIndex()}) and
     * does not wake the poll, which then carries them only at its deadline, if at all.
     */
    private void pollIndex() {
        while (!closing) {
            boolean failed = false;
            // Under the read lock: a registration (write lock) never races a poll, so the master
            // never takes an acknowledgement numbered for the node's previous registration.
            registering.readLock().lock();
            try {
                tiers.submit(master.pollIndex(config.nodeId(), tiers.applied(), POLL_MILLIS));
            } catch (RuntimeException e) {
                failed = true; // a master that forgot this node (the heartbeat registers it again) or is away
            } finally {
                registering.readLock().unlock();
            }
            if (failed) {
                try {
                    Thread.sleep(config.heartbeatMillis());
                } catch (InterruptedException interrupted) {
                    return;
                }
            }
        }
    }

    /** An extra heartbeat now (coalesced): demoted blocks are reported without waiting a period. */
    private void beatSoon() {
        if (extraBeat.compareAndSet(false, true)) {
            try {
                heartbeats.execute(() -> {
                    extraBeat.set(false);
                    beat();
                });
            } catch (RejectedExecutionException closing) {
                extraBeat.set(false);
            }
        }
    }

    /**
     * Maps (or finds again) the slab, opens the index and the SSD tier, registers with the
     * master and starts the heartbeat.
     *
     * @throws UncheckedIOException when the slab or index cannot be created
     * @throws RpcException         when the master refuses or cannot be reached
     */
    public static StoreNode start(Config config) {
        Slab slab = null;
        BlockIndex index = null;
        SsdTier ssd = null;
        NodeTiers tiers = null;
        TransferEngine engine = null;
        MasterClient master = null;
        ExecutorService rpcExecutor = null;
        RpcServer rpc = null;
        boolean started = false;
        try {
            long populateNanos = 0;
            if (config.dataDir() != null) {
                Files.createDirectories(config.dataDir());
                Path file = config.dataDir().resolve("dram.slab");
                boolean fresh = !Files.exists(file) || Files.size(file) != config.capacityBytes();
                slab = Slab.mapShared(file, config.capacityBytes(), false);
                index = BlockIndex.openIn(config.dataDir(),
                        config.capacityBytes() / OffsetAllocator.ALIGNMENT);
                if (fresh) {
                    index.clear();
                }
            } else {
                for (Path stale : Slab.removeStale(config.shmDir())) {
                    LOG.info("removed the slab file {} of a process that is gone", stale);
                }
                slab = Slab.mapShared(config.shmDir().resolve("ferry-" + config.nodeId() + "-"
                        + ProcessHandle.current().pid() + ".slab"), config.capacityBytes(), true);
                index = BlockIndex.inMemory(config.capacityBytes() / OffsetAllocator.ALIGNMENT);
            }
            if (!config.lazySlab()) {
                long start = System.nanoTime();
                slab.populate();
                populateNanos = System.nanoTime() - start;
            }
            NodeTiers[] self = new NodeTiers[1];
            if (config.ssdDir() != null) {
                ssd = SsdTier.open(new SsdTier.Context().directory(config.ssdDir())
                        .diskBytes(config.ssdCapacityBytes()).policy(EvictionPolicy.byName(config.ssdPolicy()))
                        .ioThreads(2).evictionListener((key, bytes) -> self[0].ssdEvicted(key)));
            }
            tiers = new NodeTiers(slab, index, ssd);
            self[0] = tiers;
            engine = new TransferEngine(config.engine());
            master = new MasterClient(config.master(), 5_000,
                    config.masterReconnectMillis());
            if (ssd != null) {
                rpcExecutor = Executors.newFixedThreadPool(4, r -> new Thread(r, "ferry-node-rpc"));
                NodeTiers t = tiers;
                rpc = new RpcServer(config.engine().bindHost(), 0, (method, in, out) -> serve(t, method, in),
                        rpcExecutor);
            }
            StoreNode node = new StoreNode(config, slab, populateNanos, tiers, engine, master, rpcExecutor, rpc);
            started = true;
            return node;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the data directory " + config.dataDir(), e);
        } finally {
            if (!started) { // whatever failed (an Error too): the slab file goes with the rest
                closeAll(slab, index, ssd, tiers, engine, master, rpcExecutor, rpc);
            }
        }
    }

    private static void closeAll(Slab slab, BlockIndex index, SsdTier ssd, NodeTiers tiers, TransferEngine engine,
                                 MasterClient master, ExecutorService rpcExecutor, RpcServer rpc) {
        if (tiers != null) {
            ProcessSupport.closeQuietly(slab, tiers, engine, master, rpc, rpcExecutor == null ? null : rpcExecutor::shutdownNow);
        } else {
            ProcessSupport.closeQuietly(slab, index, ssd, engine, master, rpc);
        }
    }

    /** Serves a call of {@link NodeProtocol}; the version check comes before {@code tiers} is used. */
    static void serve(NodeTiers tiers, int method, ByteBuf in) {
        if (method == NodeProtocol.LEGACY_LOAD) {
            throw new RpcException(RpcException.REFUSED, "store node protocol mismatch: LOAD with an 8-byte block key "
                    + "comes from an earlier build; this node takes 16-byte keys: run every Ferry process from one build");
        }
        if (method != NodeProtocol.LOAD) {
            throw new RpcException(RpcException.REFUSED, "unknown store node method " + method);
        }
        tiers.load(Wire.readKey(in), Wire.readLong(in), Wire.readLong(in), Wire.readInt(in));
    }

    private void beat() {
        try {
            List<IndexUpdate> updates = master.heartbeat(config.nodeId(), tiers.report());
            registered = true;
            tiers.reported();
            tiers.submit(updates);
        } catch (RpcException e) {
            registered = false;
            if (e.status() == RpcException.REFUSED) {
                reregister();
            }
        } catch (RuntimeException e) {
            registered = false;
            LOG.warn("store node {}: heartbeat failed: {}", config.nodeId(), e.toString());
        }
    }

    private void reregister() {
        // Before the master knows the segment again (and may allocate in it), so that a reader
        // comparing this count around a read of the slab sees any re-registration it raced with.
        registering.writeLock().lock();
        registrations.incrementAndGet();
        try {
            tiers.reset();
            List<IndexedBlock> kept = tiers.kept(new AtomicLong());
            int taken = master.register(config.nodeId(), segment, features, kept);
            registered = true;
            LOG.info("store node {} registered again with the master; {} of {} kept blocks taken back", config.nodeId(),
                    taken, kept.size());
        } catch (RpcException ignored) {
            // try again at the next beat
        } finally {
            registering.writeLock().unlock();
        }
    }

    /**
     * This node's index as a commit from its own process uses it: the master hands the node's
     * index updates back with the commit's answer, and they are applied here, under the same
     * lock as an index poll, before the commit returns, so that the master need not wait for
     * this node's acknowledgement ({@link dev.ferry.store.master.Master#putCommit(
     * dev.ferry.store.block.BlockKey[], int[], long, String, long)}).
     */
    public CommitIndex commitIndex() {
        return new CommitIndex() {
            @Override
            public String nodeId() {
                return config.nodeId();
            }

            @Override
            public void commit(java.util.function.LongFunction<List<dev.ferry.store.master.IndexUpdate>> commit) {
                registering.readLock().lock();
                try {
                    tiers.submit(commit.apply(tiers.applied()));
                } finally {
                    registering.readLock().unlock();
                }
            }

            @Override
            public <T> T whileRegistered(java.util.function.LongFunction<T> work) {
                registering.readLock().lock();
                try {
                    return work.apply(registrations.get());
                } finally {
                    registering.readLock().unlock();
                }
            }
        };
    }

    /** The entries of this node's index now (none without a data directory); for tests. */
    List<dev.ferry.store.index.IndexedBlock> indexEntries() {
        return tiers.indexEntries();
    }

    /** Whether the last heartbeat (or registration) reached the master. */
    public boolean registered() {
        return registered;
    }

    /**
     * How many times this node registered again after its first registration (a restarted
     * master, or the node was declared dead). A lease granted before a change no longer pins
     * anything in this segment: the master forgot the node, and the blocks it takes back
     * start unleased. The count goes up before the new registration is sent.
     */
    public long registrations() {
        return registrations.get();
    }

    /**
     * The slab's memory: this node's segment, for readers in this process that hold a lease
     * on the blocks they read (a copy with no transfer). Valid until {@link #close()}.
     */
    public java.lang.foreign.MemorySegment memory() {
        return slab.memory();
    }

    /** The segment this node serves. */
    public SegmentDescriptor segment() {
        return segment;
    }

    /** The slab file. */
    public Path slabFile() {
        return slab.file().orElseThrow();
    }

    /** Whether the SSD tier takes writes now ({@code OK} without one); starts a retry when one is due. */
    public dev.ferry.store.tier.SsdHealth ssdHealth() {
        return tiers.ssdHealth();
    }

    /** What this node holds per tier now (walks its resident blocks: for metrics). Thread-safe. */
    public NodeUsage usage() {
        return tiers.usage();
    }

    /** Writes the SSD tier refused because its disk was full or failing, since start. */
    public long refusedSsdWrites() {
        return tiers.refusedSsdWrites();
    }

    /** Blocks found again (in DRAM and on SSD) and taken back by the master at start. */
    public int recovered() {
        return recovered;
    }

    /** Indexed blocks dropped at start because their bytes no longer matched. */
    public int dropped() {
        return dropped;
    }

    /**
     * The page size the slab got, for reports: {@code 2MiB} when huge pages map at least half
     * of it in this process, {@code 4KiB} otherwise, {@code lazy} for a slab not populated at
     * start (whose pages are not there yet). Reads /proc/self/smaps: not for hot paths.
     */
    public String slabPageSize() {
        return config.lazySlab() ? "lazy" : slab.pageSize();
    }

    /** Bytes of the slab that huge pages (2 MiB) map in this process now; reads /proc/self/smaps. */
    public long slabHugePageBytes() {
        return slab.hugePageBytes();
    }

    /** Time spent populating the slab at start, ns (0 for a lazy slab). */
    public long populateNanos() {
        return populateNanos;
    }

    /** Blocks the scrub has checked since start (0 without a scrub). */
    public long scrubbedBlocks() {
        return scrubber == null ? 0 : scrubber.blocksChecked();
    }

    /** Bytes the scrub has checked since start (0 without a scrub). */
    public long scrubbedBytes() {
        return scrubber == null ? 0 : scrubber.bytesChecked();
    }

    /** Corrupt copies the scrub found (and the master dropped) since start. */
    public long scrubCorrupt() {
        return scrubber == null ? 0 : scrubber.corruptFound();
    }

    /** The node's transfer engine. */
    public TransferEngine engine() {
        return engine;
    }

    @Override
    public void close() {
        closing = true;
        indexPoll.interrupt();
        try {
            slab.removeFile(); // first: the rest of the shutdown may be cut short
        } catch (UncheckedIOException e) {
            LOG.warn("store node {}: {}", config.nodeId(), e.getMessage());
        }
        if (scrubber != null) {
            scrubber.close(); // before the slab: it reads it
        }
        heartbeats.shutdownNow();
        try {
            heartbeats.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ProcessSupport.closeQuietly(master);
        try {
            indexPoll.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ProcessSupport.closeQuietly(slab, tiers, engine, rpc, rpcExecutor == null ? null : rpcExecutor::shutdownNow);
    }
}
