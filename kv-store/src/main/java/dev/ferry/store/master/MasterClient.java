package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.coord.EtcdException;
import dev.ferry.store.coord.LeaderLocator;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.rpc.EpochFence;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.Wire;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.segment.SegmentResolver;
import dev.ferry.transfer.slice.TransferException;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Typed calls to a remote master ({@link MasterProtocol}). Also resolves segments for the
 * transfer engine, caching descriptors until {@link #forgetSegment} is called.
 *
 * <p>A master that goes away (a crash, a restart) is waited for: a call that cannot reach
 * it reconnects and is sent again, with a growing pause (50 ms up to 500 ms), until the
 * reconnect deadline ({@link #DEFAULT_RECONNECT_MILLIS} unless given) has passed since its
 * first failure; then it fails with {@link RpcException#UNAVAILABLE} naming the master.
 * Calls that are safe to repeat (lookups, heartbeats, registration, releases, stats) are
 * resent after a connection lost mid-call, or one that stopped answering (a timeout), too; calls that change state once (put start,
 * commit and abort, get, remove) only when they were never sent, so a master never acts on
 * one twice. A master restarted without state knows none of the earlier puts and leases:
 * a commit of a put it never started fails with CONFLICT, a release of a lease it never
 * granted answers "expired".
 *
 * <p>Given an etcd address ({@link MasterAddress}), it calls the leader that etcd names and
 * follows it: a call refused with {@link RpcException#NOT_LEADER} (a standby, a deposed
 * leader, or an answer from an epoch older than one seen) or one that lost its connection
 * looks the leader up again and is sent to the new one, within the same reconnect deadline.
 * A NOT_LEADER refusal is resent whatever the call: no leader whose state survives acted on
 * it. Answers from an epoch older than the highest seen are refused (one {@link EpochFence}
 * for all the masters this client calls).
 *
 * <p>Thread-safe. Owns a connection: close it.
 */
public final class MasterClient implements MasterApi, SegmentResolver, AutoCloseable {
    /** How long a call keeps trying to reach a master that went away, ms, by default. */
    public static final long DEFAULT_RECONNECT_MILLIS = 5_000;
    /**
     * A reconnect deadline that follows the masters' lease TTL: for an etcd address, twice the
     * TTL the leader's lease was granted with plus {@link #DEFAULT_RECONNECT_MILLIS} (15 s with
     * the default 5 s TTL), read from etcd when the client starts, so that a failover, which
     * takes up to one TTL plus the new leader's campaign, is ridden through; for a fixed
     * master, {@link #DEFAULT_RECONNECT_MILLIS}.
     */
    public static final long FOLLOW_LEASE_TTL = -1;
    private static final long FIRST_PAUSE_MILLIS = 50;
    private static final long MAX_PAUSE_MILLIS = 500;

    /** Whether the master may know PUT_START_NAMED (false once it answered that it does not). */
    private volatile boolean namesKnown = true;
    /** Whether the master knows GRANT (false after one of an earlier build refused it). */
    private volatile boolean grantsKnown = true;
    private final long reconnectMillis;
    /** What the reconnect deadline would be without a TTL read from etcd, for {@link #FOLLOW_LEASE_TTL}, ms. */
    private static final long ETCD_FALLBACK_RECONNECT_MILLIS = 3 * DEFAULT_RECONNECT_MILLIS;
    private final long timeoutMillis;
    private final LeaderLocator locator;
    private final EpochFence fence = new EpochFence();
    private final dev.ferry.transfer.tls.PortSecurity security;
    /** The master called now; replaced when the leader changes ({@link #follow}). */
    private volatile RpcClient rpc;
    /** The client of the master left behind last (a call may still be on it), closed at the next change. */
    private final List<RpcClient> retired = new ArrayList<>();
    private final dev.ferry.store.rpc.CallTimes callTimes = new dev.ferry.store.rpc.CallTimes();
    private final Map<String, SegmentDescriptor> segments = new ConcurrentHashMap<>();
    /**
     * The epoch of the master that started each put of this client not committed or aborted
     * yet, by key: its commit names it, so that a later leader refuses it (STALE_PUT).
     */
    private final Map<BlockKey, Long> putEpochs = new ConcurrentHashMap<>();

    /** @param timeoutMillis longest wait for an answer, ms */
    public MasterClient(String host, int port, long timeoutMillis) {
        this(host, port, timeoutMillis, DEFAULT_RECONNECT_MILLIS);
    }

    /**
     * @param timeoutMillis   longest wait for an answer, ms
     * @param reconnectMillis how long a call keeps trying to reach a master that went away, ms
     *                        (0: fail at the first lost connection)
     */
    public MasterClient(String host, int port, long timeoutMillis, long reconnectMillis) {
        this(MasterAddress.of(host, port), timeoutMillis, reconnectMillis);
    }

    /**
     * A client of a fixed master or of the leader of a cluster in etcd. For etcd, waits for a
     * leader up to the reconnect deadline (at least one answer timeout).
     *
     * @param timeoutMillis   longest wait for an answer, ms
     * @param reconnectMillis how long a call keeps trying to reach a master that went away, or
     *                        the new leader, ms (0: fail at the first lost connection;
     *                        {@link #FOLLOW_LEASE_TTL}: from the leader's lease TTL)
     * @throws RpcException UNAVAILABLE when etcd names no leader within that time
     */
    public MasterClient(MasterAddress address, long timeoutMillis, long reconnectMillis) {
        this(address, timeoutMillis, reconnectMillis, dev.ferry.transfer.tls.PortSecurity.process());
    }

    /**
     * @param security TLS to the masters and, for an {@code etcd+https://} address, to etcd; or plain TCP
     * @see #MasterClient(MasterAddress, long, long)
     */
    public MasterClient(MasterAddress address, long timeoutMillis, long reconnectMillis,
                        dev.ferry.transfer.tls.PortSecurity security) {
        this.security = security;
        if (reconnectMillis < 0 && reconnectMillis != FOLLOW_LEASE_TTL) {
            throw new IllegalArgumentException("reconnect deadline must be >= 0 ms, not " + reconnectMillis);
        }
        this.timeoutMillis = timeoutMillis;
        this.locator = new LeaderLocator(address, java.time.Duration.ofMillis(Math.clamp(timeoutMillis, 100, 2_000)),
                security);
        try {
            boolean followTtl = reconnectMillis == FOLLOW_LEASE_TTL;
            long firstWait = followTtl ? (address.viaEtcd() ? ETCD_FALLBACK_RECONNECT_MILLIS : DEFAULT_RECONNECT_MILLIS)
                    : reconnectMillis;
            LeaderLocator.Leader leader = firstLeader(Math.max(firstWait, timeoutMillis));
            this.reconnectMillis = followTtl ? reconnectFollowingTtl(leader) : reconnectMillis;
            this.rpc = new RpcClient(leader.host(), leader.port(), timeoutMillis, fence, security);
        } catch (RuntimeException | Error e) {
            locator.close();
            throw e;
        }
    }

    private long reconnectFollowingTtl(LeaderLocator.Leader leader) {
        if (!locator.follows()) {
            return DEFAULT_RECONNECT_MILLIS;
        }
        long ttl;
        try {
            ttl = locator.leaseTtlSeconds(leader);
        } catch (EtcdException e) {
            ttl = 0;
        }
        return ttl > 0 ? 2 * TimeUnit.SECONDS.toMillis(ttl) + DEFAULT_RECONNECT_MILLIS : ETCD_FALLBACK_RECONNECT_MILLIS;
    }

    /** How long a call keeps trying to reach a master that went away, or the new leader, ms. */
    public long reconnectMillis() {
        return reconnectMillis;
    }

    private LeaderLocator.Leader firstLeader(long waitMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        String why = "etcd names none";
        while (true) {
            try {
                java.util.Optional<LeaderLocator.Leader> leader = locator.find();
                if (leader.isPresent()) {
                    return leader.get();
                }
            } catch (EtcdException | IllegalStateException e) {
                why = e.getMessage();
            }
            if (System.nanoTime() - deadline >= 0 || Thread.currentThread().isInterrupted()) {
                throw new RpcException(RpcException.UNAVAILABLE, "no master leads " + locator.address() + " within "
                        + waitMillis + " ms: " + why);
            }
            try {
                Thread.sleep(FIRST_PAUSE_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Looks the leader up again and, when it moved, sends the next calls there. Calls still
     * waiting on the old one fail (and are resent when they may be).
     *
     * @return whether the master to call changed
     */
    private synchronized boolean follow() {
        if (!locator.follows()) {
            return false;
        }
        java.util.Optional<LeaderLocator.Leader> leader;
        try {
            leader = locator.find();
        } catch (EtcdException | IllegalStateException e) {
            return false; // etcd away: keep calling the one known
        }
        RpcClient current = rpc;
        if (leader.isEmpty() || leader.get().address().equals(current.target())) {
            return false;
        }
        rpc = new RpcClient(leader.get().host(), leader.get().port(), timeoutMillis, fence, security);
        current.disconnect();
        // The one left behind before has had a whole term to see its last calls off.
        retired.forEach(RpcClient::close);
        retired.clear();
        retired.add(current);
        return true;
    }

    /** A call that may be sent again after a lost connection. */
    private <T> T idempotent(int method, Consumer<ByteBuf> request, Function<ByteBuf, T> answer) {
        long start = System.nanoTime();
        try {
            return retrying(true, r -> r.call(method, request, answer));
        } finally {
            callTimes.record(method, System.nanoTime() - start);
        }
    }

    /** A call that is sent again only when it never left (no connection could be made). */
    private <T> T once(int method, Consumer<ByteBuf> request, Function<ByteBuf, T> answer) {
        long start = System.nanoTime();
        try {
            return retrying(false, r -> r.call(method, request, answer));
        } finally {
            callTimes.record(method, System.nanoTime() - start);
        }
    }

    /** This client's calls per method ({@link MasterProtocol}) and their wall time, retries included. */
    public dev.ferry.store.rpc.CallTimes callTimes() {
        return callTimes;
    }

    /** Calls the master to call now, {@code call} given its client, as the retry rules above say. */
    private <T> T retrying(boolean idempotent, Function<RpcClient, T> call) {
        long firstFailure = 0;
        long pause = FIRST_PAUSE_MILLIS;
        while (true) {
            RpcClient used = rpc;
            try {
                return call.apply(used);
            } catch (RpcException e) {
                MasterProtocol.checkVersion(e, rpc.target());
                boolean notLeader = e.status() == RpcException.NOT_LEADER;
                boolean lost = e.status() == RpcException.UNAVAILABLE && (idempotent || e.notSent())
                        || e.status() == RpcException.TIMEOUT && idempotent || notLeader;
                if (!lost && !idempotent && locator.follows() && !Thread.currentThread().isInterrupted()
                        && (e.status() == RpcException.UNAVAILABLE || e.status() == RpcException.TIMEOUT)) {
                    if (e.status() == RpcException.TIMEOUT) {
                        used.disconnect();
                    }
                    if (awaitNewLeader(used.target())) {
                        continue; // the master that may have acted on it is gone with its state
                    }
                    throw e;
                }
                if (!lost || Thread.currentThread().isInterrupted()) {
                    throw e;
                }
                if (e.status() == RpcException.TIMEOUT) {
                    used.disconnect(); // a connection the master no longer answers on
                }
                if (follow() && notLeader) {
                    continue; // the new leader, at once
                }
                long now = System.nanoTime();
                if (firstFailure == 0) {
                    firstFailure = now;
                }
                long left = reconnectMillis - TimeUnit.NANOSECONDS.toMillis(now - firstFailure);
                if (left <= 0) {
                    throw new RpcException(notLeader ? RpcException.NOT_LEADER : RpcException.UNAVAILABLE,
                            "master at " + used.target() + (notLeader ? " not the leader" : " unreachable")
                            + (reconnectMillis > 0 ? " for " + reconnectMillis + " ms (the reconnect deadline)" : "")
                            + ": " + e.getMessage(), e);
                }
                try {
                    Thread.sleep(Math.min(pause, left));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                pause = Math.min(pause * 2, MAX_PAUSE_MILLIS);
            }
        }
    }

    /**
     * After a call that changes state lost its connection to a leader: waits, up to the
     * reconnect deadline, for etcd to name another leader (the old one's term, and whatever it
     * did with the call, is then gone: the call may be sent to the new one), or for the old
     * leader to answer again (it lives, and may have acted on the call: it is not resent).
     *
     * @return whether a new leader took over
     */
    private boolean awaitNewLeader(String lost) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(reconnectMillis);
        long pause = FIRST_PAUSE_MILLIS;
        while (System.nanoTime() - deadline < 0) {
            follow();
            RpcClient current = rpc;
            if (!current.target().equals(lost)) {
                return true; // this thread or another followed the leader elsewhere
            }
            try {
                current.call(MasterProtocol.LOOKUP_PREFIX, b -> Wire.writeLongs(b, new long[0]), Wire::readInt);
                follow();
                return !rpc.target().equals(lost); // the old leader answers: unless it was replaced just now
            } catch (RpcException probe) {
                // away (dead, or deposed): wait for the next leader
            }
            try {
                Thread.sleep(pause);
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                return false;
            }
            pause = Math.min(pause * 2, MAX_PAUSE_MILLIS);
        }
        return false;
    }

    /** The highest epoch of the masters' answers so far (0 for masters without etcd). */
    public long epoch() {
        return fence.highest();
    }

    /** The master's address, {@code host:port}. */
    public String target() {
        return rpc.target();
    }

    /** Registers a plain node: no local index, no SSD tier. */
    public void register(String nodeId, SegmentDescriptor segment) {
        register(nodeId, segment, NodeFeatures.NONE, List.of());
    }

    /** @see Master#registerNode(String, SegmentDescriptor, NodeFeatures, List) */
    public int register(String nodeId, SegmentDescriptor segment, NodeFeatures features, List<IndexedBlock> kept) {
        return idempotent(MasterProtocol.REGISTER, b -> {
            b.writeInt(MasterProtocol.VERSION);
            Wire.writeString(b, nodeId);
            MasterProtocol.writeDescriptor(b, segment);
            b.writeBoolean(features.indexed()).writeLong(features.ssdBytes());
            Wire.writeString(b, features.loadEndpoint());
            b.writeInt(kept.size());
            kept.forEach(k -> MasterProtocol.writeBlock(b, k));
        }, Wire::readInt);
    }

    public void heartbeat(String nodeId) {
        heartbeat(nodeId, NodeReport.ack(0));
    }

    /** @see Master#heartbeat(String, NodeReport) */
    public List<IndexUpdate> heartbeat(String nodeId, NodeReport report) {
        return idempotent(MasterProtocol.HEARTBEAT, b -> {
            Wire.writeString(b, nodeId);
            MasterProtocol.writeReport(b, report);
        }, MasterProtocol::readUpdates);
    }

    /**
     * Acknowledges the index updates up to {@code ackedSeq} and waits, at most
     * {@code waitMillis}, for the next ones (a node's index poll).
     *
     * @return the next updates, oldest first; empty when none came within the wait
     * @see Master#pollIndex
     */
    public List<IndexUpdate> pollIndex(String nodeId, long ackedSeq, long waitMillis) {
        return retrying(true, r -> r.call(MasterProtocol.INDEX_POLL, b -> {
            Wire.writeString(b, nodeId);
            b.writeLong(ackedSeq);
            b.writeLong(waitMillis);
        }, MasterProtocol::readUpdates, waitMillis + r.timeoutMillis()));
    }

    /** @see Master#lookupPrefix */
    @Override
    public int lookupPrefix(BlockKey[] keys) {
        return idempotent(MasterProtocol.LOOKUP_PREFIX, b -> Wire.writeKeys(b, keys), Wire::readInt);
    }

    /** @see Master#exists */
    @Override
    public boolean[] exists(BlockKey[] keys) {
        return idempotent(MasterProtocol.EXISTS, b -> Wire.writeKeys(b, keys), Wire::readBooleans);
    }

    /** @see Master#pin */
    @Override
    public int pin(BlockKey[] keys, boolean hard, long ttlMillis) {
        return idempotent(MasterProtocol.PIN, b -> {
            Wire.writeKeys(b, keys);
            b.writeBoolean(hard);
            b.writeLong(ttlMillis);
        }, Wire::readInt);
    }

    /** @see Master#unpin */
    public void unpin(BlockKey[] keys) {
        idempotent(MasterProtocol.UNPIN, b -> Wire.writeKeys(b, keys), b -> null);
    }

    /** One replica, no preferred segment. */
    public List<Placement> putStart(BlockKey[] keys, long blockBytes) {
        return putStart(keys, blockBytes, 1, null);
    }

    /**
     * Allocates, as {@link Master#putStart(BlockKey[], long, int, String)} does, waiting out the
     * master's write stall ({@link WriteStall}).
     *
     * @throws RpcException NO_SPACE when there is no room; BUSY when the stall outlasted
     *                      {@link WriteStall#LIMIT_NANOS}
     */
    @Override
    public List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment) {
        return WriteStall.retry(() -> putStartOnce(keys, blockBytes, replicas, preferredSegment));
    }

    /**
     * {@link #putStart(BlockKey[], long, int, String)} recording the blocks' string keys
     * (PUT_START_NAMED); a master of an earlier build, which does not know that call, gets
     * PUT_START without them (and this client asks it no more).
     */
    @Override
    public List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment,
                                    String[] names) {
        if (names == null || !namesKnown) {
            return putStart(keys, blockBytes, replicas, preferredSegment);
        }
        try {
            return WriteStall.retry(() -> putStartOnce(keys, blockBytes, replicas, preferredSegment, names));
        } catch (RpcException e) {
            if (!MasterProtocol.unknown(e, MasterProtocol.PUT_START_NAMED)) {
                throw e;
            }
            namesKnown = false;
            return putStart(keys, blockBytes, replicas, preferredSegment);
        }
    }

    /**
     * @see Master#removeByRegex
     * @throws RpcException REFUSED for a pattern that does not compile, or from a master of an
     *                      earlier build ("unknown master method 43")
     */
    @Override
    public long removeByRegex(String pattern, boolean force) {
        return once(MasterProtocol.REMOVE_BY_REGEX, b -> {
            Wire.writeString(b, pattern);
            b.writeBoolean(force);
        }, Wire::readLong);
    }

    private List<Placement> putStartOnce(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment) {
        return putStartOnce(keys, blockBytes, replicas, preferredSegment, null);
    }

    private List<Placement> putStartOnce(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment,
                                         String[] names) {
        return once(names == null ? MasterProtocol.PUT_START : MasterProtocol.PUT_START_NAMED, b -> {
            Wire.writeKeys(b, keys);
            b.writeLong(blockBytes);
            b.writeInt(replicas);
            Wire.writeString(b, preferredSegment == null ? "" : preferredSegment);
            if (names != null) {
                for (String name : names) {
                    // A name longer than a wire string is recorded as none (such a key is never matched).
                    boolean fits = name != null && name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                            <= Wire.MAX_STRING;
                    Wire.writeString(b, fits ? name : "");
                }
            }
        }, b -> {
            long epoch = RpcClient.answerEpoch(b);
            int n = Wire.readCount(b, 1);
            List<Placement> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                BlockKey key = Wire.readKey(b);
                boolean exists = Wire.readBoolean(b);
                String segment = Wire.readString(b);
                out.add(new Placement(key, exists ? null : segment, Wire.readLong(b), Wire.readLong(b)));
                if (!exists) {
                    putEpochs.put(key, epoch);
                }
            }
            return out;
        });
    }

    /**
     * Commits, naming the epoch of the master that started the put of these keys (their
     * first key's put, when they came from several): a later leader never started it and
     * refuses it with {@link RpcException#STALE_PUT}.
     *
     * @throws RpcException STALE_PUT: put the blocks again; CONFLICT: keys not being written
     */
    @Override
    public void putCommit(BlockKey[] keys, int[] crcs) {
        Long epoch = null;
        for (int i = 0; i < keys.length && epoch == null; i++) {
            epoch = putEpochs.get(keys[i]);
        }
        Long putEpoch = epoch;
        try {
            once(MasterProtocol.PUT_COMMIT, b -> {
                Wire.writeKeys(b, keys);
                Wire.writeInts(b, crcs);
                if (putEpoch != null) {
                    b.writeLong(putEpoch);
                }
            }, b -> null);
        } finally {
            forgetPuts(keys);
        }
    }

    /**
     * {@link MasterApi#putCommit(BlockKey[], int[], String, long)}: the node's part follows
     * the put's epoch in PUT_COMMIT. A commit of keys whose epoch this client does not know,
     * or a master that answers without updates (one that predates the node's part, and so
     * waited for every holding node), returns no updates.
     */
    @Override
    public java.util.List<IndexUpdate> putCommit(BlockKey[] keys, int[] crcs, String nodeId, long ackedSeq) {
        Long epoch = null;
        for (int i = 0; i < keys.length && epoch == null; i++) {
            epoch = putEpochs.get(keys[i]);
        }
        if (epoch == null) {
            putCommit(keys, crcs);
            return java.util.List.of();
        }
        long putEpoch = epoch;
        try {
            return once(MasterProtocol.PUT_COMMIT, b -> {
                Wire.writeKeys(b, keys);
                Wire.writeInts(b, crcs);
                b.writeLong(putEpoch);
                Wire.writeString(b, nodeId);
                b.writeLong(ackedSeq);
            }, b -> b.isReadable() ? MasterProtocol.readUpdates(b) : java.util.List.of());
        } finally {
            forgetPuts(keys);
        }
    }

    /**
     * {@link MasterApi#grant}: GRANT; a master of an earlier build, which does not know that
     * call, grants nothing (and is asked no more).
     */
    @Override
    public long[] grant(String nodeId, String segment, long bytes) {
        if (!grantsKnown) {
            return null;
        }
        try {
            return once(MasterProtocol.GRANT, b -> {
                Wire.writeString(b, nodeId);
                Wire.writeString(b, segment);
                b.writeLong(bytes);
            }, b -> Wire.readBoolean(b) ? new long[] {Wire.readLong(b), Wire.readLong(b)} : null);
        } catch (RpcException e) {
            if (!MasterProtocol.unknown(e, MasterProtocol.GRANT)) {
                throw e;
            }
            grantsKnown = false;
            return null;
        }
    }

    /** {@link MasterApi#putGranted}: PUT_GRANTED. */
    @Override
    public GrantedPut putGranted(String nodeId, String segment, BlockKey[] keys, String[] names, long[] offsets,
                                 long[] lengths, int[] crcs, long ackedSeq) {
        return once(MasterProtocol.PUT_GRANTED, b -> {
            Wire.writeString(b, nodeId);
            Wire.writeString(b, segment);
            Wire.writeKeys(b, keys);
            for (int i = 0; i < keys.length; i++) {
                String name = names == null ? null : names[i];
                boolean fits = name != null && name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                        <= Wire.MAX_STRING;
                Wire.writeString(b, fits ? name : "");
                b.writeLong(offsets[i]).writeLong(lengths[i]);
            }
            Wire.writeInts(b, crcs);
            b.writeLong(ackedSeq);
        }, b -> {
            byte[] results = new byte[keys.length];
            b.readBytes(results);
            return new GrantedPut(results, MasterProtocol.readUpdates(b));
        });
    }

    /** {@link MasterApi#returnGranted}: RETURN_GRANTED. */
    @Override
    public long returnGranted(String nodeId, String segment, java.util.List<long[]> ranges) {
        if (!grantsKnown || ranges.isEmpty()) {
            return 0;
        }
        return once(MasterProtocol.RETURN_GRANTED, b -> {
            Wire.writeString(b, nodeId);
            Wire.writeString(b, segment);
            b.writeInt(ranges.size());
            for (long[] r : ranges) {
                b.writeLong(r[0]).writeLong(r[1]);
            }
        }, Wire::readLong);
    }

    @Override
    public void putAbort(BlockKey[] keys) {
        try {
            once(MasterProtocol.PUT_ABORT, b -> Wire.writeKeys(b, keys), b -> null);
        } finally {
            forgetPuts(keys);
        }
    }

    private void forgetPuts(BlockKey[] keys) {
        for (BlockKey key : keys) {
            putEpochs.remove(key);
        }
    }

    /** @see Master#get */
    @Override
    public Lease get(BlockKey[] keys, long ttlMillis) {
        // BUSY from a new leader whose store nodes are registering again: ask again (WriteStall).
        return WriteStall.retry(() -> getOnce(keys, ttlMillis));
    }

    private Lease getOnce(BlockKey[] keys, long ttlMillis) {
        return once(MasterProtocol.GET, b -> {
            Wire.writeKeys(b, keys);
            b.writeLong(ttlMillis);
        }, b -> {
            long id = Wire.readLong(b);
            long ttl = Wire.readLong(b);
            int n = Wire.readCount(b, 4);
            List<List<Replica>> replicas = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int copies = Wire.readCount(b, 1);
                List<Replica> list = new ArrayList<>(copies);
                for (int c = 0; c < copies; c++) {
                    String segment = Wire.readString(b);
                    long offset = Wire.readLong(b);
                    long length = Wire.readLong(b);
                    int crc = Wire.readInt(b);
                    String load = Wire.readString(b);
                    list.add(new Replica(keys[i], segment, offset, length, crc, load.isEmpty() ? null : load));
                }
                replicas.add(list);
            }
            return new Lease(id, ttl, replicas);
        });
    }

    /**
     * Releases a lease without waiting: for a reader that knows it cannot have expired (much
     * less than its TTL has passed since it was asked for). If the release is lost, the
     * lease simply runs out.
     */
    @Override
    public void releaseLater(long leaseId) {
        try {
            rpc.send(MasterProtocol.RELEASE, b -> b.writeLong(leaseId));
        } catch (RpcException ignored) {
            // the lease runs out on its own
        }
    }

    /** @see Master#renew */
    public boolean renew(long leaseId, long ttlMillis) {
        return idempotent(MasterProtocol.RENEW, b -> {
            b.writeLong(leaseId);
            b.writeLong(ttlMillis);
        }, Wire::readBoolean);
    }

    /** @see Master#release */
    @Override
    public boolean release(long leaseId) {
        return idempotent(MasterProtocol.RELEASE, b -> b.writeLong(leaseId), Wire::readBoolean);
    }

    /**
     * Reports that {@code segment} could not be reached; the master probes its node.
     *
     * @return whether the segment is gone (its node declared dead, or already unknown)
     */
    @Override
    public boolean suspect(String segment) {
        forgetSegment(segment);
        return idempotent(MasterProtocol.SUSPECT, b -> Wire.writeString(b, segment), Wire::readBoolean);
    }

    /** @see Master#dropCorrupt */
    @Override
    public boolean dropCorrupt(BlockKey key, String segment, long offset, int crc32c) {
        return rpc.call(MasterProtocol.DROP_CORRUPT, b -> {
            key.write(b);
            Wire.writeString(b, segment);
            b.writeLong(offset).writeInt(crc32c);
        }, Wire::readBoolean);
    }

    /** @see Master#remove */
    @Override
    public byte[] remove(BlockKey[] keys) {
        return once(MasterProtocol.REMOVE, b -> Wire.writeKeys(b, keys), b -> {
            byte[] out = new byte[Wire.readCount(b, 1)];
            b.readBytes(out);
            return out;
        });
    }

    /** @see Master#removeAll */
    @Override
    public long removeAll(boolean force) {
        return once(MasterProtocol.REMOVE_ALL, b -> b.writeBoolean(force), Wire::readLong);
    }

    /**
     * Tells the master that this engine's GPU tier lost {@code keys} with its previous process.
     *
     * @return how many of them are still committed blocks
     * @throws dev.ferry.store.rpc.RpcException when the master cannot be reached, or is older
     *                                          and does not know the method
     * @see Master#gpuCopiesLost(String, BlockKey[])
     */
    public long gpuCopiesLost(String engine, BlockKey[] keys) {
        return once(MasterProtocol.GPU_LOST, b -> {
            Wire.writeString(b, engine);
            Wire.writeKeys(b, keys);
        }, Wire::readLong);
    }

    /**
     * Reports the blocks this engine's GPU tier holds: with {@code full} all of them, else the
     * changes since the previous report.
     *
     * @return how many copies the master now has for the engine
     * @throws dev.ferry.store.rpc.RpcException when the master cannot be reached, or is older
     *                                          and does not know the method
     * @see Master#gpuHeld
     */
    public long gpuHeld(String engine, boolean full, BlockKey[] added, BlockKey[] dropped) {
        return once(MasterProtocol.GPU_HELD, b -> {
            Wire.writeString(b, engine);
            b.writeBoolean(full);
            Wire.writeKeys(b, added);
            Wire.writeKeys(b, dropped);
        }, Wire::readLong);
    }

    /**
     * The blocks each engine reports its GPU tier holds, by engine name (sorted).
     *
     * @see Master#gpuCopiesPerEngine
     */
    public java.util.Map<String, Long> gpuCopiesPerEngine() {
        return idempotent(MasterProtocol.GPU_COPIES, b -> { }, b -> {
            int n = Wire.readCount(b, 12);
            java.util.Map<String, Long> out = new java.util.TreeMap<>();
            for (int i = 0; i < n; i++) {
                out.put(Wire.readString(b), Wire.readLong(b));
            }
            return out;
        });
    }

    /**
     * The engines holding each block in their GPU tier (per key, sorted names; empty for none).
     *
     * @see Master#gpuHolders
     */
    public List<List<String>> gpuHolders(BlockKey[] keys) {
        return idempotent(MasterProtocol.GPU_HOLDERS, b -> Wire.writeKeys(b, keys), b -> {
            List<List<String>> out = new ArrayList<>(keys.length);
            for (int i = 0; i < keys.length; i++) {
                int n = Wire.readCount(b, 4);
                List<String> engines = new ArrayList<>(n);
                for (int j = 0; j < n; j++) {
                    engines.add(Wire.readString(b));
                }
                out.add(List.copyOf(engines));
            }
            return out;
        });
    }

    public MasterStats stats() {
        return idempotent(MasterProtocol.STATS, b -> { }, b -> new MasterStats(Wire.readInt(b), Wire.readLong(b),
                Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readInt(b),
                Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b),
                Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b)));
    }

    @Override
    public SegmentDescriptor resolve(String name) {
        SegmentDescriptor cached = segments.get(name);
        if (cached != null) {
            return cached;
        }
        SegmentDescriptor d;
        try {
            d = idempotent(MasterProtocol.SEGMENT, b -> Wire.writeString(b, name),
                    b -> Wire.readBoolean(b) ? MasterProtocol.readDescriptor(b) : null);
        } catch (RpcException e) {
            throw new TransferException("cannot resolve segment '" + name + "': " + e.getMessage(), false, e);
        }
        if (d == null) {
            throw new TransferException("unknown segment '" + name + "'", false);
        }
        segments.put(name, d);
        return d;
    }

    /** Drops a cached descriptor (its node restarted or died). */
    public void forgetSegment(String name) {
        segments.remove(name);
    }

    @Override
    public void invalidate(String name) {
        forgetSegment(name);
    }

    @Override
    public void close() {
        try {
            synchronized (this) {
                retired.forEach(RpcClient::close);
                retired.clear();
            }
            rpc.close();
        } finally {
            locator.close();
        }
    }
}
