package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.RpcHandler;
import dev.ferry.store.rpc.RpcServer;
import dev.ferry.store.rpc.ServerEpoch;
import dev.ferry.store.rpc.Wire;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.netty.buffer.ByteBuf;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The master behind its RPC server ({@link MasterProtocol}), with a reaper that expires
 * dead nodes, leases and abandoned puts every 200 ms.
 *
 * <p>Thread-safe. Owns a socket and two threads: close it.
 */
public final class MasterService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MasterService.class);

    private final EvictionPolicy policy;
    private final long nodeTimeoutMillis;
    /** Replaced by a fresh one when this master starts a term as leader ({@link #resetState}). */
    private volatile Master master;
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "ferry-master"));
    private final ScheduledExecutorService reaper = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ferry-master-reaper");
        t.setDaemon(true);
        return t;
    });
    /** Writes index poll answers, out of the master's lock (a wake-up comes from inside it). */
    private final ExecutorService indexAnswers = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ferry-master-index");
        t.setDaemon(true);
        return t;
    });
    private final RpcServer server;

    /**
     * @param host             address to bind
     * @param port             port, 0 for a free one
     * @param policy           eviction policy
     * @param nodeTimeoutMillis a node silent this long is dead, ms
     * @throws IllegalStateException when the port cannot be bound
     */
    public MasterService(String host, int port, EvictionPolicy policy, long nodeTimeoutMillis) {
        this(host, port, policy, nodeTimeoutMillis, ServerEpoch.NONE);
    }

    /**
     * A master that answers only while {@code epoch} lets it (one of several masters elected
     * through etcd), stamping its answers with that epoch.
     *
     * @see #MasterService(String, int, EvictionPolicy, long)
     */
    public MasterService(String host, int port, EvictionPolicy policy, long nodeTimeoutMillis, ServerEpoch epoch) {
        this(host, port, policy, nodeTimeoutMillis, epoch, dev.ferry.transfer.tls.PortSecurity.process());
    }

    /**
     * @param security TLS on its port, or plain TCP (then on loopback only, unless insecure)
     * @throws IllegalStateException also when {@code host} is beyond loopback without TLS
     * @see #MasterService(String, int, EvictionPolicy, long, ServerEpoch)
     */
    public MasterService(String host, int port, EvictionPolicy policy, long nodeTimeoutMillis, ServerEpoch epoch,
                         dev.ferry.transfer.tls.PortSecurity security) {
        this.policy = policy;
        this.nodeTimeoutMillis = nodeTimeoutMillis;
        this.master = newMaster();
        // Every method but SUSPECT (a probe of up to 500 ms) is a short synchronized call on
        // the master: served on the I/O thread, without a hand-off per call.
        this.server = new RpcServer(host, port, new RpcHandler() {
            @Override
            public void handle(int method, ByteBuf request, ByteBuf answer) {
                MasterService.this.handle(method, request, answer);
            }

            @Override
            public CompletionStage<?> handleLater(int method, ByteBuf request, ByteBuf answer) {
                return MasterService.this.handleLater(method, request, answer);
            }
        }, executor, method -> method != MasterProtocol.SUSPECT, epoch, security);
        reaper.scheduleWithFixedDelay(this::expire, 200, 200, TimeUnit.MILLISECONDS);
    }

    private Master newMaster() {
        return newMaster(0);
    }

    private Master newMaster(long term) {
        return new Master(policy, System::nanoTime, TimeUnit.MILLISECONDS.toNanos(nodeTimeoutMillis),
                TimeUnit.SECONDS.toNanos(30), term);
    }

    /**
     * Forgets every node, block, put and lease: a master elected leader starts from nothing,
     * as a restarted one does, and store nodes register again with the blocks they hold.
     * Call it only while the service refuses calls (its {@link ServerEpoch} says so).
     */
    public void resetState() {
        master = newMaster();
    }

    /**
     * {@link #resetState()} for the term of epoch {@code term}: commits of puts started in
     * another term are refused with {@link RpcException#STALE_PUT}.
     */
    public void resetState(long term) {
        master = newMaster(term);
    }

    /** The RPC port. */
    public int port() {
        return server.port();
    }

    /** The state behind the service (for tests and in-process use). */
    public Master master() {
        return master;
    }

    private void expire() {
        List<String> dead = master.expire();
        for (String node : dead) {
            LOG.warn("store node {} missed its heartbeats: declared dead, its blocks dropped", node);
        }
    }

    /**
     * Probes the node of a segment a client could not reach (a TCP connect to its data
     * endpoint, 500 ms at most); declares it dead when the probe fails too. A client alone
     * never gets a live node dropped.
     *
     * @return whether the segment is gone (its node declared dead now, or unknown already)
     */
    public boolean suspect(String segment) {
        SegmentDescriptor d = master.segment(segment);
        if (d == null) {
            return true;
        }
        try (java.net.Socket probe = new java.net.Socket()) {
            probe.connect(new java.net.InetSocketAddress(d.endpoint().host(), d.endpoint().port()), 500);
            return false;
        } catch (java.io.IOException unreachable) {
            String node = master.declareDead(segment);
            LOG.warn("store node {} is unreachable at {}: declared dead, its blocks dropped", node, d.endpoint());
            return true;
        }
    }

    /**
     * The methods answered later: a commit once the holding nodes have it in their indexes
     * ({@link Master#putCommit}), an index poll once there are updates. The waits complete
     * under the master's lock; the answers are written on a thread of their own, after it.
     */
    private CompletionStage<?> handleLater(int method, ByteBuf in, ByteBuf out) {
        try {
            return dispatchLater(method, in, out);
        } catch (MasterException e) {
            throw MasterErrors.toRpc(e);
        }
    }

    private CompletionStage<?> dispatchLater(int method, ByteBuf in, ByteBuf out) {
        switch (method) {
            case MasterProtocol.PUT_COMMIT -> {
                BlockKey[] keys = Wire.readKeys(in);
                int[] crcs = Wire.readInts(in);
                // The put's epoch is absent from the commits of clients that predate it.
                Master m = master;
                long putEpoch = in.readableBytes() >= Long.BYTES ? in.readLong() : -1;
                if (in.isReadable()) { // from a store node's own process: its updates come with the answer
                    String node = Wire.readString(in);
                    Master.Committed c = m.putCommit(keys, crcs, putEpoch, node, Wire.readLong(in));
                    if (c.fence().isDone()) {
                        MasterProtocol.writeUpdates(out, c.updates());
                        return null;
                    }
                    return c.fence().completeOnTimeout(null, Master.INDEX_ACK_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)
                            .thenRun(() -> MasterProtocol.writeUpdates(out, c.updates()));
                }
                CompletableFuture<Void> fence = putEpoch >= 0 ? m.putCommit(keys, crcs, putEpoch) : m.putCommit(keys, crcs);
                return fence.isDone() ? null
                        : fence.completeOnTimeout(null, Master.INDEX_ACK_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            }
            case MasterProtocol.PUT_GRANTED -> {
                String node = Wire.readString(in);
                String segment = Wire.readString(in);
                BlockKey[] keys = Wire.readKeys(in);
                int n = keys.length;
                String[] names = new String[n];
                long[] offsets = new long[n];
                long[] lengths = new long[n];
                for (int i = 0; i < n; i++) {
                    String name = Wire.readString(in);
                    names[i] = name.isEmpty() ? null : name;
                    offsets[i] = Wire.readLong(in);
                    lengths[i] = Wire.readLong(in);
                }
                int[] crcs = Wire.readInts(in);
                long acked = Wire.readLong(in);
                Master.Granted g = master.putGranted(node, segment, keys, names, offsets, lengths, crcs, acked);
                out.writeBytes(g.results());
                Master.Committed c = g.committed();
                if (c.fence().isDone()) {
                    MasterProtocol.writeUpdates(out, c.updates());
                    return null;
                }
                return c.fence().completeOnTimeout(null, Master.INDEX_ACK_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)
                        .thenRun(() -> MasterProtocol.writeUpdates(out, c.updates()));
            }
            case MasterProtocol.INDEX_POLL -> {
                String node = Wire.readString(in);
                long acked = Wire.readLong(in);
                long waitMillis = Math.clamp(Wire.readLong(in), 0, MasterProtocol.MAX_POLL_MILLIS);
                Master.IndexPoll poll = master.pollIndex(node, acked);
                if (!poll.updates().isEmpty() || waitMillis == 0) {
                    MasterProtocol.writeUpdates(out, poll.updates());
                    return null;
                }
                return poll.news().completeOnTimeout(null, waitMillis, TimeUnit.MILLISECONDS)
                        .thenRunAsync(() -> MasterProtocol.writeUpdates(out, master.pollIndex(node, acked).updates()),
                                indexAnswers);
            }
            default -> {
                dispatch(method, in, out);
                return null;
            }
        }
    }

    private void handle(int method, ByteBuf in, ByteBuf out) {
        try {
            dispatch(method, in, out);
        } catch (MasterException e) {
            throw MasterErrors.toRpc(e);
        }
    }

    private void dispatch(int method, ByteBuf in, ByteBuf out) {
        switch (method) {
            case MasterProtocol.REGISTER -> {
                MasterProtocol.requireVersion(Wire.readInt(in));
                String node = Wire.readString(in);
                SegmentDescriptor d = MasterProtocol.readDescriptor(in);
                NodeFeatures features = new NodeFeatures(Wire.readBoolean(in), Wire.readLong(in), Wire.readString(in));
                int n = Wire.readCount(in, MasterProtocol.BLOCK_BYTES);
                List<IndexedBlock> kept = new java.util.ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    kept.add(MasterProtocol.readBlock(in));
                }
                int taken = master.registerNode(node, d, features, kept);
                out.writeInt(taken);
                LOG.info("store node {} registered segment {} ({} bytes at {}{}), {} of {} kept blocks taken back", node,
                        d.name(), d.bytes(), d.endpoint(), features.ssd() ? ", with an SSD tier" : "", taken, n);
            }
            case MasterProtocol.HEARTBEAT -> {
                String node = Wire.readString(in);
                NodeReport report = MasterProtocol.readReport(in);
                MasterProtocol.writeUpdates(out, master.heartbeat(node, report));
            }
            case MasterProtocol.LOOKUP_PREFIX -> out.writeInt(master.lookupPrefix(Wire.readKeys(in)));
            case MasterProtocol.PUT_START, MasterProtocol.PUT_START_NAMED -> {
                BlockKey[] keys = Wire.readKeys(in);
                long blockBytes = Wire.readLong(in);
                int replicas = Wire.readInt(in);
                String preferred = Wire.readString(in);
                String[] names = null;
                if (method == MasterProtocol.PUT_START_NAMED) {
                    names = new String[keys.length];
                    for (int i = 0; i < names.length; i++) {
                        String name = Wire.readString(in);
                        names[i] = name.isEmpty() ? null : name;
                    }
                }
                List<Placement> placements = master.putStart(keys, blockBytes, replicas,
                        preferred.isEmpty() ? null : preferred, names);
                out.writeInt(placements.size());
                for (Placement p : placements) {
                    p.key().write(out).writeBoolean(p.exists());
                    Wire.writeString(out, p.exists() ? "" : p.segment());
                    out.writeLong(p.offset()).writeLong(p.length());
                }
            }
            case MasterProtocol.PUT_ABORT -> master.putAbort(Wire.readKeys(in));
            case MasterProtocol.GRANT -> {
                long[] range = master.grant(Wire.readString(in), Wire.readString(in), Wire.readLong(in));
                out.writeBoolean(range != null);
                if (range != null) {
                    out.writeLong(range[0]).writeLong(range[1]);
                }
            }
            case MasterProtocol.RETURN_GRANTED -> {
                String node = Wire.readString(in);
                String segment = Wire.readString(in);
                int n = Wire.readCount(in, 16);
                List<long[]> ranges = new java.util.ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    ranges.add(new long[] {Wire.readLong(in), Wire.readLong(in)});
                }
                out.writeLong(master.returnGranted(node, segment, ranges));
            }
            case MasterProtocol.GET -> {
                BlockKey[] keys = Wire.readKeys(in);
                Lease lease = master.get(keys, Wire.readLong(in));
                out.writeLong(lease.id()).writeLong(lease.ttlMillis()).writeInt(lease.replicas().size());
                for (List<Replica> copies : lease.replicas()) {
                    out.writeInt(copies.size());
                    for (Replica r : copies) {
                        Wire.writeString(out, r.segment());
                        out.writeLong(r.offset()).writeLong(r.length()).writeInt(r.crc32c());
                        Wire.writeString(out, r.needsLoad() ? r.loadEndpoint() : "");
                    }
                }
            }
            case MasterProtocol.RELEASE -> out.writeBoolean(master.release(Wire.readLong(in)));
            case MasterProtocol.RENEW -> out.writeBoolean(master.renew(Wire.readLong(in), Wire.readLong(in)));
            case MasterProtocol.EXISTS -> Wire.writeBooleans(out, master.exists(Wire.readKeys(in)));
            case MasterProtocol.PIN -> out.writeInt(master.pin(Wire.readKeys(in), Wire.readBoolean(in), Wire.readLong(in)));
            case MasterProtocol.UNPIN -> master.unpin(Wire.readKeys(in));
            case MasterProtocol.SEGMENT -> {
                SegmentDescriptor d = master.segment(Wire.readString(in));
                out.writeBoolean(d != null);
                if (d != null) {
                    MasterProtocol.writeDescriptor(out, d);
                }
            }
            case MasterProtocol.STATS -> {
                MasterStats s = master.stats();
                out.writeInt(s.nodes()).writeLong(s.blocks()).writeLong(s.pendingBlocks()).writeLong(s.capacityBytes())
                        .writeLong(s.usedBytes()).writeLong(s.evictions()).writeLong(s.lostBlocks()).writeInt(s.leases())
                        .writeLong(s.underReplicated()).writeLong(s.pinnedBlocks()).writeLong(s.indexBacklog())
                        .writeLong(s.ssdBlocks()).writeLong(s.dramHits()).writeLong(s.ssdHits()).writeLong(s.demotions())
                        .writeLong(s.promotions()).writeLong(s.demotionWaits()).writeLong(s.corruptCopies());
            }
            case MasterProtocol.SUSPECT -> out.writeBoolean(suspect(Wire.readString(in)));
            case MasterProtocol.DROP_CORRUPT -> out.writeBoolean(master.dropCorrupt(Wire.readKey(in),
                    Wire.readString(in), Wire.readLong(in), Wire.readInt(in)));
            case MasterProtocol.REMOVE_ALL -> out.writeLong(master.removeAll(Wire.readBoolean(in)));
            case MasterProtocol.GPU_LOST -> out.writeLong(master.gpuCopiesLost(Wire.readString(in), Wire.readKeys(in)));
            case MasterProtocol.GPU_HELD -> {
                String engine = Wire.readString(in);
                boolean full = Wire.readBoolean(in);
                BlockKey[] added = Wire.readKeys(in);
                out.writeLong(master.gpuHeld(engine, full, added, Wire.readKeys(in)));
            }
            case MasterProtocol.GPU_COPIES -> {
                var perEngine = master.gpuCopiesPerEngine();
                out.writeInt(perEngine.size());
                perEngine.forEach((engine, n) -> {
                    Wire.writeString(out, engine);
                    out.writeLong(n);
                });
            }
            case MasterProtocol.GPU_HOLDERS -> {
                List<List<String>> holders = master.gpuHolders(Wire.readKeys(in));
                for (List<String> h : holders) {
                    out.writeInt(h.size());
                    for (String engine : h) {
                        Wire.writeString(out, engine);
                    }
                }
            }
            case MasterProtocol.REMOVE_BY_REGEX -> {
                String pattern = Wire.readString(in);
                out.writeLong(master.removeByRegex(pattern, Wire.readBoolean(in)));
            }
            case MasterProtocol.REMOVE -> {
                byte[] results = master.remove(Wire.readKeys(in));
                out.writeInt(results.length).writeBytes(results);
            }
            default -> throw MasterProtocol.unknownMethod(method);
        }
    }

    @Override
    public void close() {
        reaper.shutdownNow();
        server.close();
        executor.shutdownNow();
        indexAnswers.shutdownNow();
    }
}
