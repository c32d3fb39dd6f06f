package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.master.MasterException.Reason;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * The metadata service: store nodes and their segments, block key to replicas, allocation,
 * eviction, leases and pins. Put is two-phase ({@link #putStart} allocates, the writer
 * moves the bytes, {@link #putCommit} publishes); a block is visible to {@link #lookupPrefix}
 * and {@link #get} only once committed, and a writer that never commits has its space
 * reclaimed after the put timeout.
 *
 * <p>Replicas: a put may ask for several copies of each block, placed on different nodes
 * (the preferred segment first, then the segments with the most free bytes). A node that
 * dies takes only its copies along; a block whose last copy is gone is lost. Blocks with
 * fewer copies than asked for are counted in {@link MasterStats#underReplicated()}.
 *
 * <p>Eviction never takes a block that is being written, leased or hard-pinned; a block
 * soft-pinned before its deadline goes only when no unpinned block can (Mooncake Store's
 * hard and soft pins).
 *
 * <p>Local indexes: a node that registers as {@code indexed} receives every commit and
 * removal in its segment ({@link IndexUpdate}), from an index poll ({@link #pollIndex}) that
 * waits for them and in its heartbeat answers, and acknowledges them in its next poll or
 * heartbeat, so that a restarted node (or a node meeting a restarted master) can register
 * the blocks it kept again ({@link #registerNode(String, SegmentDescriptor, NodeFeatures, List)}).
 * A commit completes only once the holding nodes acknowledged it ({@link #putCommit}).
 *
 * <p>Tiers: on a node with an SSD tier, {@link #expire} demotes the coldest evictable
 * blocks (in the policy's order) when the node's DRAM is fuller than {@link #HIGH_WATERMARK},
 * until it is down to {@link #LOW_WATERMARK}: the node is told to write them to SSD, and
 * their DRAM is freed once it reports them written. A get of a block that is only on SSD
 * allocates DRAM for it on that node and hands the reader a replica to load first
 * ({@link Replica#needsLoad()}): the promotion on hit. A node whose SSD tier reports itself
 * full or failing ({@link NodeReport#ssd()}) is treated as a node without SSD for demotion
 * and the write stall until it reports {@link SsdHealth#OK} again: nothing is demoted there,
 * and a put that finds its DRAM full evicts at once.
 *
 * <p>Write stall: when a put finds DRAM full on nodes with an SSD tier, the master starts
 * demoting there (if it has not already) and answers {@link Reason#BUSY} instead of
 * evicting, so blocks move to SSD rather than being dropped; the writer retries shortly
 * ({@link WriteStall}, behind {@link MasterApi#putStart}). Like RocksDB's write stall, this trades put latency
 * for data kept. When demotion makes no progress for {@link #DEMOTION_STALL_NANOS}, or
 * nothing more can be demoted, the put evicts as on a node without SSD. Progress is a block
 * reported written; asking for a block again after a failed demotion is none.
 *
 * <p>Recency: a prefix lookup touches the hit blocks in key order and a put touches or
 * inserts every key in order, so with one request at a time the hit ratio equals the
 * reference LRU replay of ../shared/traces/README.md. Gets take leases without touching.
 *
 * <p>Each concern is a package-private class of its own, composed here: {@link Membership},
 * {@link BlockTable}, {@link Allocation}, {@link Eviction} (eviction and the tiers),
 * {@link LeaseTable} (leases and pins) and {@link IndexLog}. None walks every block on a
 * request's path: expiry takes what is due from queues ordered by time, demotion reads its
 * segment's counters.
 *
 * <p>Thread-safe: every method is synchronized (the master is one small state machine).
 * Times come from the supplied clock, in nanoseconds.
 */
public final class Master {
    /** Most index updates one heartbeat answer carries. */
    public static final int MAX_UPDATES_PER_HEARTBEAT = 16_384;
    /** Most unacknowledged index updates kept per node; older ones are dropped (and counted). */
    public static final int MAX_INDEX_BACKLOG = 1 << 20;
    /**
     * DRAM use above which a node with an SSD tier demotes, as a fraction of its segment.
     * Mooncake Store starts evicting at 0.95 of capacity ({@code eviction_high_watermark_ratio});
     * demotion starts earlier so that puts seldom find DRAM full.
     */
    public static final double HIGH_WATERMARK = 0.85;
    /** DRAM use that demotion brings a node back down to. */
    public static final double LOW_WATERMARK = 0.70;
    /**
     * A put waits for demotion (answered {@link Reason#BUSY}) only while demotion in the
     * segment moved within this long, ns; after that it evicts.
     */
    public static final long DEMOTION_STALL_NANOS = 1_000_000_000L;
    /**
     * Longest wait, ms, for the nodes holding a commit's blocks to acknowledge it into their
     * indexes before the commit is acknowledged anyway (a node that stalls keeps no writer
     * waiting longer; one that is gone is not waited for at all).
     */
    public static final long INDEX_ACK_TIMEOUT_MILLIS = 1_000;

    private final LongSupplier clock;
    /** The epoch of the term this state belongs to (0: a master without etcd). */
    private final long term;
    /** When this state began, ns of the clock. */
    private final long termStart;
    private final long nodeTimeoutNanos;
    private final long putTimeoutNanos;
    private final Membership members = new Membership();
    private final IndexLog log = new IndexLog(members, MAX_INDEX_BACKLOG);
    private final BlockTable blocks;
    private final LeaseTable leases;
    private final Eviction eviction;
    private final Allocation allocation;
    private long corruptCopies;
    /** GPU copies that engines reported lost with a process (GPU contents do not survive one). */
    private long gpuCopiesLost;
    /** Which blocks each engine holds in its GPU tier, as the engines report it. */
    private final GpuCopies gpuCopies = new GpuCopies();
    private long dramHits;
    private long ssdHits;
    private long demotionWaits;
    private long lastCommitDemotion = Long.MIN_VALUE / 2;

    /**
     * @param policy           eviction policy
     * @param clock            nanosecond clock ({@code System::nanoTime} in production)
     * @param nodeTimeoutNanos a node silent this long is declared dead, ns
     * @param putTimeoutNanos  an uncommitted put older than this is reclaimed, ns
     */
    public Master(EvictionPolicy policy, LongSupplier clock, long nodeTimeoutNanos, long putTimeoutNanos) {
        this(policy, clock, nodeTimeoutNanos, putTimeoutNanos, 0);
    }

    /**
     * The state of one term of a master elected through etcd: commits of puts started in
     * another term are refused ({@link #putCommit(long[], int[], long)}).
     *
     * @param term the term's epoch, >= 0 (0 for a master without etcd)
     * @see #Master(EvictionPolicy, LongSupplier, long, long)
     */
    public Master(EvictionPolicy policy, LongSupplier clock, long nodeTimeoutNanos, long putTimeoutNanos, long term) {
        this.term = term;
        this.clock = clock;
        this.termStart = clock.getAsLong();
        this.nodeTimeoutNanos = nodeTimeoutNanos;
        this.putTimeoutNanos = putTimeoutNanos;
        this.blocks = new BlockTable(policy, members, log);
        this.leases = new LeaseTable(blocks.policy, blocks::current);
        this.eviction = new Eviction(blocks, members, log, clock);
        this.allocation = new Allocation(blocks, members, eviction);
    }

    /** Registers a plain node's segment: no local index, no SSD tier. */
    public synchronized void registerNode(String nodeId, SegmentDescriptor segment) {
        registerNode(nodeId, segment, NodeFeatures.NONE, List.of());
    }

    /**
     * Registers a node's segment, again after a restart of the node or of the master. The
     * node's previous registration, and its copies, are dropped first. The blocks the node
     * kept (in DRAM at their offsets, or on its SSD tier) are taken back: a block whose key is
     * unknown becomes a committed block; a block already committed elsewhere with the same
     * length and CRC gets one more replica; anything else (a key being written, a different
     * CRC or length, a DRAM range that is out of the segment or overlaps another, an SSD block
     * on a node without SSD) is refused.
     *
     * @param features what the node offers besides its segment
     * @param kept     blocks the node still holds (their bytes verified by the node)
     * @return how many of {@code kept} were taken back
     * @throws MasterException REFUSED when another node owns the segment name
     */
    public synchronized int registerNode(String nodeId, SegmentDescriptor segment, NodeFeatures features,
                                         List<IndexedBlock> kept) {
        NodeState old = members.node(nodeId);
        if (old != null) {
            dropNode(old);
        }
        SegmentState state = members.add(nodeId, segment, features, clock.getAsLong());
        int taken = 0;
        for (IndexedBlock k : kept) {
            if (blocks.takeBack(state, features, k, clock.getAsLong())) {
                taken++;
            }
        }
        return taken;
    }

    /**
     * @throws MasterException REFUSED when the node is unknown (declared dead): it must register again
     */
    public synchronized void heartbeat(String nodeId) {
        heartbeat(nodeId, 0);
    }

    /** A heartbeat that only acknowledges updates. */
    public synchronized List<IndexUpdate> heartbeat(String nodeId, long ackedSeq) {
        return heartbeat(nodeId, NodeReport.ack(ackedSeq));
    }

    /**
     * Records a heartbeat and what the node reports (updates applied, demotions written,
     * promotions loaded, SSD blocks gone), and hands out the node's next updates.
     *
     * @return the updates after {@code report.ackedSeq()}, oldest first, at most
     *         {@link #MAX_UPDATES_PER_HEARTBEAT}
     * @throws MasterException REFUSED when the node is unknown (declared dead): it must register again
     */
    public synchronized List<IndexUpdate> heartbeat(String nodeId, NodeReport report) {
        NodeState node = members.known(nodeId, ": register again");
        node.lastHeartbeat = clock.getAsLong();
        String segment = node.segments.getFirst();
        members.ssdHealth(node, report.ssd());
        for (BlockKey key : report.demoted()) {
            eviction.demoted(segment, key);
        }
        for (BlockKey key : report.loaded()) {
            eviction.loaded(segment, key);
        }
        for (BlockKey key : report.ssdGone()) {
            eviction.ssdGone(segment, key);
        }
        return node.updatesAfter(report.ackedSeq(), MAX_UPDATES_PER_HEARTBEAT);
    }

    /**
     * What the node of {@code nodeId} last reported of its SSD tier ({@link SsdHealth#OK} for
     * a node without one).
     *
     * @throws MasterException REFUSED when the node is unknown
     */
    public synchronized SsdHealth ssdHealth(String nodeId) {
        return members.known(nodeId, "").ssdHealth;
    }

    /**
     * Declares the node that owns {@code segment} dead at once (its copies are dropped),
     * after the caller has confirmed it is unreachable.
     *
     * @return the node's id, or null when no node owns the segment any more
     */
    public synchronized String declareDead(String segment) {
        SegmentState s = members.segment(segment);
        if (s == null) {
            return null;
        }
        NodeState node = members.node(s.nodeId());
        if (node != null) {
            dropNode(node);
        }
        return s.nodeId();
    }

    /** The descriptor of a segment, or null. */
    public synchronized SegmentDescriptor segment(String name) {
        SegmentState s = members.segment(name);
        return s == null ? null : s.descriptor();
    }

    /**
     * @return how many leading keys are committed blocks (the prefix hit), touching them in order
     */
    public synchronized int lookupPrefix(BlockKey[] keys) {
        int hits = 0;
        while (hits < keys.length) {
            BlockState b = blocks.get(keys[hits]);
            if (b == null || !b.committed) {
                break;
            }
            hits++;
        }
        for (int i = 0; i < hits; i++) {
            blocks.policy.onAccess(keys[i]);
            if (blocks.get(keys[i]).inDram()) {
                dramHits++;
            } else {
                ssdHits++;
            }
        }
        return hits;
    }

    /** Whether each key is a committed block; touches nothing. */
    public synchronized boolean[] exists(BlockKey[] keys) {
        boolean[] out = new boolean[keys.length];
        for (int i = 0; i < keys.length; i++) {
            BlockState b = blocks.get(keys[i]);
            out[i] = b != null && b.committed;
        }
        return out;
    }

    /**
     * An engine's GPU tier lost these blocks with its previous process (a restart: GPU contents
     * do not survive one). The master keeps no GPU replicas in its table (an engine's GPU tier
     * checks every hit against the committed CRC32C of a lease), so it counts them
     * ({@link #gpuCopiesLost()}) and says how many are still readable from DRAM or SSD.
     *
     * The copies the engine's previous process reported holding ({@link #gpuHeld}) are dropped.
     *
     * @param engine the engine that reports, as in its {@link #gpuHeld} reports
     * @return how many of {@code keys} are committed blocks (the rest were gone from the store already)
     */
    public synchronized long gpuCopiesLost(String engine, BlockKey[] keys) {
        gpuCopiesLost += keys.length;
        gpuCopies.drop(engine);
        long committed = 0;
        for (boolean e : exists(keys)) {
            committed += e ? 1 : 0;
        }
        return committed;
    }

    /**
     * An engine's report of the blocks its GPU tier holds (method 50 {@code GPU_HELD}), sent in
     * batches off the engine's hot path: with {@code full}, {@code added} is all it holds;
     * otherwise the changes since its previous report. The master keeps these as a locality map
     * ({@link #gpuHolders}, {@link #gpuCopiesPerEngine}), not as replicas: a store read never
     * goes to a GPU tier. An engine that has not reported for the node timeout is taken for dead
     * and its copies are dropped ({@link #expire}); so is one that reports {@link #gpuCopiesLost}.
     *
     * @param engine the engine's name (stable across its restarts)
     * @return how many copies the master now has for the engine; an engine whose own count
     *         differs sends a full report next (e.g. after a master restart)
     */
    public synchronized long gpuHeld(String engine, boolean full, BlockKey[] added, BlockKey[] dropped) {
        return gpuCopies.report(engine, full, added, dropped, clock.getAsLong());
    }

    /**
     * Which engines hold each block in their GPU tier, for a reader's locality hint: per key,
     * the engines' names, sorted; empty for a key that is not a committed block.
     */
    public synchronized List<List<String>> gpuHolders(BlockKey[] keys) {
        List<List<String>> out = new ArrayList<>(keys.length);
        for (BlockKey k : keys) {
            BlockState b = blocks.get(k);
            out.add(b != null && b.committed ? gpuCopies.holders(k) : List.of());
        }
        return out;
    }

    /** GPU copies per engine now, by engine name (as reported with {@link #gpuHeld}). */
    public synchronized java.util.Map<String, Integer> gpuCopiesPerEngine() {
        return gpuCopies.perEngine();
    }

    /** GPU copies held by all engines together now. */
    public synchronized long gpuCopies() {
        return gpuCopies.total();
    }

    /** GPU copies that engines reported lost since this master started. */
    public synchronized long gpuCopiesLost() {
        return gpuCopiesLost;
    }

    /** One replica per key, no preferred segment. */
    public synchronized List<Placement> putStart(BlockKey[] keys, long blockBytes) {
        return putStart(keys, blockBytes, 1, null);
    }

    /**
     * Allocates space for the keys not in the store, evicting as the policy says when full;
     * keys already present (committed or being written) are touched and reported as existing.
     *
     * @param keys             block keys, in request order
     * @param blockBytes       bytes of each block
     * @param replicas         copies wanted per block, each on a different node (at least 1);
     *                         fewer are placed when fewer nodes have room
     * @param preferredSegment segment for the first copy when it has room (the writer's own
     *                         node, or the one its caller names), by segment name, node id or
     *                         an endpoint's {@code host:port}; or null
     * @return per key in order: one placement with {@link Placement#exists()} when the key is
     *         present, else one placement per copy
     * @throws MasterException NO_SPACE when a block fits no segment even after evicting every
     *                      evictable block; BUSY when DRAM is full but blocks are being
     *                      demoted to SSD, or when this is a new leader's term (of an epoch
     *                      above 0) younger than the node timeout and no store node has
     *                      registered with it yet (retry shortly). Either way, what this call
     *                      allocated is released
     */
    public synchronized List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment) {
        return putStart(keys, blockBytes, replicas, preferredSegment, null);
    }

    /**
     * {@link #putStart(BlockKey[], long, int, String)} that records, with each new block, the
     * string key it was put under ({@code names[i]} for {@code keys[i]}; a null entry, or null
     * for all, records none), for {@link #removeByRegex}. Names live in this master's memory
     * only: a new leader rebuilt from the store nodes' indexes knows none of them.
     */
    public synchronized List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment,
                                                 String[] names) {
        if (names != null && names.length != keys.length) {
            throw new MasterException(Reason.REFUSED, keys.length + " keys and " + names.length + " names: one name "
                    + "per key");
        }
        if (blockBytes < 1) {
            throw new MasterException(Reason.REFUSED, "block size must be at least 1 byte");
        }
        if (replicas < 1) {
            throw new MasterException(Reason.REFUSED, "replica count must be at least 1, not " + replicas);
        }
        long largest = members.largestSegment();
        if (members.segments().isEmpty() && rebuilding()) {
            // A new leader: the store nodes are registering again; the writer waits (WriteStall).
            throw new MasterException(Reason.BUSY, "no store node has registered with this leader yet (epoch "
                    + term + ", elected " + (clock.getAsLong() - termStart) / 1_000_000 + " ms ago)");
        }
        if (members.segments().isEmpty()) {
            throw new MasterException(Reason.NO_SPACE, "no room for a block of " + blockBytes
                    + " bytes: no store node is registered");
        }
        if (OffsetAllocator.aligned(blockBytes) > largest) {
            throw new MasterException(Reason.NO_SPACE, "no room for a block of " + blockBytes + " bytes: it is "
                    + "larger than any segment (the largest holds " + largest + " bytes); nothing was evicted");
        }
        List<Placement> placements = new ArrayList<>(keys.length);
        List<BlockKey> allocated = new ArrayList<>(keys.length);
        long now = clock.getAsLong();
        for (int k = 0; k < keys.length; k++) {
            BlockKey key = keys[k];
            BlockState existing = blocks.get(key);
            if (existing != null) {
                blocks.policy.onAccess(key);
                placements.add(new Placement(key, null, 0, existing.length));
                continue;
            }
            BlockState block;
            try {
                block = allocation.allocate(key, blockBytes, replicas, preferredSegment, now);
            } catch (MasterException busy) {
                allocated.forEach(blocks::remove);
                demotionWaits++;
                throw busy;
            }
            if (block == null) {
                allocated.forEach(blocks::remove);
                throw new MasterException(Reason.NO_SPACE, "no room for a block of " + blockBytes
                        + " bytes: store holds " + members.usedBytes() + " of " + members.capacityBytes()
                        + " bytes and nothing more is evictable (leased, pinned or being written)");
            }
            allocated.add(key);
            block.name = names == null ? null : names[k];
            for (CopyState c : block.copies) {
                placements.add(new Placement(key, c.segment, c.offset(), block.length));
            }
        }
        return placements;
    }

    /**
     * Publishes written blocks. Keys already committed are ignored (a commit sent twice).
     * Each node that keeps a local index gets one update per copy it holds; the returned
     * stage completes once every such node has acknowledged them (the commit is in its index,
     * persisted with a data directory), or has left. Acknowledge the commit to the writer only
     * then, waiting at most {@link #INDEX_ACK_TIMEOUT_MILLIS}, so that a node killed after
     * the acknowledgement keeps the block.
     *
     * @param crcs CRC32C of each block's bytes, in key order
     * @return completes when the holding nodes have the commit in their indexes
     * @throws MasterException CONFLICT naming the first of the keys this master knows nothing of
     *                      (the put was reclaimed after the put timeout, its node died, or the
     *                      master restarted since the put started): those blocks are not
     *                      published and must be put again; the other keys are committed
     */
    public synchronized CompletableFuture<Void> putCommit(BlockKey[] keys, int[] crcs) {
        return putCommit(keys, crcs, term);
    }

    /**
     * As {@link #putCommit(BlockKey[], int[])}, for a put started under epoch {@code putEpoch}.
     *
     * @param putEpoch the epoch of the master that answered the put's start
     * @throws MasterException STALE_PUT when {@code putEpoch} is not this term's (a former
     *                         leader started the put): no key is touched; the writer puts the
     *                         blocks again
     */
    public synchronized CompletableFuture<Void> putCommit(BlockKey[] keys, int[] crcs, long putEpoch) {
        return commitBlocks(keys, crcs, putEpoch, IndexLog::fence);
    }

    /**
     * As {@link #putCommit(BlockKey[], int[], long)}, sent by the process that runs store node
     * {@code committer} (a sidecar): the answer also hands that node its pending index updates
     * after {@code committerAcked} (an index poll's), so it applies them itself before telling
     * its writer the put is done, and the returned stage does not wait for its acknowledgement,
     * only for the other holding nodes'. When the node's updates do not all fit in one answer
     * ({@link #MAX_UPDATES_PER_HEARTBEAT}), or the node is unknown, the stage waits for it as
     * for any other holder.
     *
     * @param committer      the committing process's own store node id
     * @param committerAcked the newest update that node applied (as in {@link #pollIndex})
     * @return the fence and the committer's updates, oldest first, which it must apply before
     *         acknowledging the commit to its writer
     * @throws MasterException as {@link #putCommit(BlockKey[], int[], long)}
     */
    public synchronized Committed putCommit(BlockKey[] keys, int[] crcs, long putEpoch, String committer,
                                            long committerAcked) {
        return commitBlocks(keys, crcs, putEpoch, holders -> {
            NodeState self = members.node(committer);
            List<IndexUpdate> updates = List.of();
            if (self != null) {
                updates = self.updatesAfter(committerAcked, MAX_UPDATES_PER_HEARTBEAT);
                if (!updates.isEmpty() && updates.getLast().seq() == self.lastSeq()) {
                    holders.remove(self); // it applies them, ours included, before its writer hears of the commit
                }
            }
            return new Committed(IndexLog.fence(holders), updates);
        });
    }

    /** {@link #putGranted}: the block was committed in its granted range. */
    public static final byte GRANTED_STORED = 0;
    /** {@link #putGranted}: the key is in the store or being written; its range stays granted. */
    public static final byte GRANTED_EXISTED = 1;
    /**
     * {@link #putGranted}: the range is not one granted to the node (this master never
     * granted it: it restarted, or the node registered again since); nothing was done for the key.
     */
    public static final byte NOT_GRANTED = 2;
    /**
     * {@link #putGranted}: the key is in the store or being written with another length; no key
     * of the call was committed.
     */
    public static final byte GRANTED_LENGTH_CONFLICT = 3;
    /** {@link #putGranted}: not committed because another key of the call conflicts; its range stays granted. */
    public static final byte GRANTED_SKIPPED = 4;

    /**
     * Grants store node {@code node} {@code bytes} (aligned) of its own segment ahead of its
     * puts, so that a put it writes there takes one call of the master ({@link #putGranted})
     * instead of two ({@link #putStart}, {@link #putCommit}). The range is allocated as a
     * block's would be (it counts as used) and stays the node's until a put carves a block out
     * of it, the node gives it back ({@link #returnGranted}), or the segment goes (the node is
     * declared dead, or registers again). Only free space is granted, and only while at least
     * as much stays free beside it: nothing is evicted or demoted for it.
     *
     * @return {@code {offset, bytes}} of the range, or null when the segment is unknown or not
     *         the node's, or has no free range that large with as much free again
     * @throws MasterException REFUSED when {@code bytes} is not positive
     */
    public synchronized long[] grant(String node, String segment, long bytes) {
        if (bytes < 1) {
            throw new MasterException(Reason.REFUSED, "a grant is at least 1 byte, not " + bytes);
        }
        SegmentState seg = members.segment(segment);
        long aligned = OffsetAllocator.aligned(bytes);
        // Granted space must not crowd out cached blocks: a segment that would be left with
        // less free than the grant gets none (its puts go the usual way, which evicts).
        if (seg == null || !seg.nodeId().equals(node) || seg.allocator().freeBytes() - aligned < aligned) {
            return null;
        }
        long offset = seg.allocator().allocate(bytes);
        if (offset < 0) {
            return null;
        }
        seg.granted().free(offset, aligned);
        return new long[] {offset, aligned};
    }

    /**
     * Gives back ranges granted to {@code node} ({@link #grant}): each range still wholly
     * granted is freed; the others (never granted, used since, or of a segment gone) are skipped.
     *
     * @param ranges each {@code {offset, bytes}}
     * @return bytes freed
     */
    public synchronized long returnGranted(String node, String segment, List<long[]> ranges) {
        SegmentState seg = members.segment(segment);
        if (seg == null || !seg.nodeId().equals(node)) {
            return 0;
        }
        long freed = 0;
        for (long[] r : ranges) {
            if (r.length == 2 && r[1] > 0 && seg.granted().reserve(r[0], r[1])) {
                seg.allocator().free(r[0], r[1]);
                freed += OffsetAllocator.aligned(r[1]);
            }
        }
        return freed;
    }

    /**
     * Commits blocks that store node {@code committer} wrote into ranges of its own segment
     * granted to it ({@link #grant}): what {@link #putStart} and {@link #putCommit} do, in one
     * call. Per key, in order: a key in the store or being written keeps its value
     * ({@link #GRANTED_EXISTED}); a range not wholly inside the node's granted ranges is
     * {@link #NOT_GRANTED}; else the range leaves the grant and holds the block's one copy,
     * committed with its CRC32C and string key ({@link #GRANTED_STORED}). When a key is there
     * with another length, nothing is committed ({@link #GRANTED_LENGTH_CONFLICT}, the others
     * {@link #GRANTED_SKIPPED}). The answer hands the node its pending index updates as
     * {@link #putCommit(BlockKey[], int[], long, String, long)} does.
     *
     * @param names   per key its string key, or null for none; null for no names at all
     * @param offsets per key where the node wrote it in its segment
     * @param lengths per key its length, bytes (at least 1)
     * @throws MasterException REFUSED when the arrays differ in length or a length is not positive
     */
    public synchronized Granted putGranted(String committer, String segment, BlockKey[] keys, String[] names,
                                           long[] offsets, long[] lengths, int[] crcs, long committerAcked) {
        int n = keys.length;
        if (offsets.length != n || lengths.length != n || crcs.length != n || names != null && names.length != n) {
            throw new MasterException(Reason.REFUSED, "a granted put of " + n + " keys has " + offsets.length
                    + " offsets, " + lengths.length + " lengths and " + crcs.length + " CRCs: one of each per key");
        }
        byte[] results = new byte[n];
        boolean conflict = false;
        for (int i = 0; i < n; i++) {
            if (lengths[i] < 1) {
                throw new MasterException(Reason.REFUSED, "block " + keys[i] + ": length " + lengths[i]);
            }
            BlockState there = blocks.get(keys[i]);
            if (there != null && there.length != lengths[i]) {
                results[i] = GRANTED_LENGTH_CONFLICT;
                conflict = true;
            }
        }
        SegmentState seg = members.segment(segment);
        boolean own = seg != null && seg.nodeId().equals(committer);
        List<BlockKey> stored = new ArrayList<>(n);
        List<Integer> storedCrcs = new ArrayList<>(n);
        long now = clock.getAsLong();
        for (int i = 0; i < n; i++) {
            if (conflict) {
                results[i] = results[i] == GRANTED_LENGTH_CONFLICT ? GRANTED_LENGTH_CONFLICT : GRANTED_SKIPPED;
            } else if (blocks.get(keys[i]) != null) {
                results[i] = GRANTED_EXISTED;
            } else if (!own || !seg.granted().reserve(offsets[i], lengths[i])) {
                results[i] = NOT_GRANTED;
            } else {
                BlockState b = blocks.start(keys[i], lengths[i], now, 1);
                b.name = names == null ? null : names[i];
                b.copies.add(new CopyState(seg, offsets[i], lengths[i]));
                stored.add(keys[i]);
                storedCrcs.add(crcs[i]);
                results[i] = GRANTED_STORED;
            }
        }
        Committed committed = putCommit(stored.toArray(BlockKey[]::new),
                storedCrcs.stream().mapToInt(Integer::intValue).toArray(), term, committer, committerAcked);
        return new Granted(results, committed);
    }

    /**
     * What {@link #putGranted} answers.
     *
     * @param results   per key {@link #GRANTED_STORED}, {@link #GRANTED_EXISTED}, {@link #NOT_GRANTED},
     *                  {@link #GRANTED_LENGTH_CONFLICT} or {@link #GRANTED_SKIPPED}
     * @param committed the commit of the stored keys: as {@link #putCommit(BlockKey[], int[], long, String, long)}'s
     */
    public record Granted(byte[] results, Committed committed) {
    }

    /**
     * What {@link #putCommit(BlockKey[], int[], long, String, long)} answers.
     *
     * @param fence   completes when the holding nodes other than the committer acknowledged the commit
     * @param updates the committer's index updates to apply, oldest first
     */
    public record Committed(CompletableFuture<Void> fence, List<IndexUpdate> updates) {
    }

    /**
     * Commits the keys and queues their index updates; {@code answer} turns the nodes holding
     * them that take the updates into the result, before anything else is queued.
     */
    private <T> T commitBlocks(BlockKey[] keys, int[] crcs, long putEpoch,
                               java.util.function.Function<List<NodeState>, T> answer) {
        if (putEpoch != term) {
            throw new MasterException(Reason.STALE_PUT, "commit of " + keys.length + " keys (first: "
                    + (keys.length == 0 ? "none" : keys[0].toString()) + ") for a put started under epoch "
                    + putEpoch + ", by a former leader: this leader (epoch " + term + ") never started it and "
                    + "published nothing; put them again");
        }
        if (crcs.length != keys.length) {
            throw new MasterException(Reason.REFUSED, "commit has " + keys.length + " keys but " + crcs.length + " CRCs");
        }
        List<NodeState> holders = new ArrayList<>(2);
        int unknown = 0;
        BlockKey firstUnknown = null;
        for (int i = 0; i < keys.length; i++) {
            BlockState b = blocks.get(keys[i]);
            if (b == null && unknown++ == 0) {
                firstUnknown = keys[i];
            }
            if (b != null && !b.committed) {
                blocks.commit(b, crcs[i]);
                for (CopyState c : b.copies) {
                    NodeState holder = log.queueQuietly(c.segment, IndexUpdate.Kind.ADD, b, c);
                    if (holder != null && !holders.contains(holder)) {
                        holders.add(holder);
                    }
                }
            }
        }
        List<NodeState> queued = List.copyOf(holders);
        T result;
        try {
            result = answer.apply(holders);
        } finally {
            // The holders' index polls wake now, but for the committer's own node when the
            // answer hands it all its updates (it left the holders): that poll would only
            // carry them a second time, a round trip and four wake-ups per put; it still gets
            // them at its deadline when the answer is lost.
            for (NodeState n : queued) {
                if (holders.contains(n)) {
                    n.signal();
                }
            }
        }
        // At once rather than at the next reaper pass (puts come in bursts), but one pass per
        // 10 ms at most.
        long now = clock.getAsLong();
        if (now - lastCommitDemotion >= 10_000_000L) {
            lastCommitDemotion = now;
            eviction.demoteWhereNeeded();
        }
        if (unknown > 0) {
            throw new MasterException(MasterException.Reason.CONFLICT, unknown + " of " + keys.length + " committed keys (first: "
                    + firstUnknown + ") are not being written: the put was reclaimed after "
                    + putTimeoutNanos / 1_000_000 + " ms, its node died, or the master restarted; put them again");
        }
        return result;
    }

    /**
     * An index poll: records that the node applied the updates up to {@code ackedSeq} and
     * hands out the next ones, or, when there are none yet, a stage that completes when one
     * is queued (then poll again) or the node is dropped.
     *
     * @throws MasterException REFUSED when the node is unknown (declared dead): it must register again
     */
    public synchronized IndexPoll pollIndex(String nodeId, long ackedSeq) {
        return IndexLog.poll(members.known(nodeId, ": register again"), ackedSeq, MAX_UPDATES_PER_HEARTBEAT);
    }

    /**
     * What {@link #pollIndex} found.
     *
     * @param updates the node's next updates, oldest first (empty when none is queued)
     * @param news    completes when there may be updates to poll for (at once when {@code updates} has some)
     */
    public record IndexPoll(List<IndexUpdate> updates, CompletableFuture<Void> news) {
    }

    /**
     * Whether this is a new leader's term (an epoch above 0) younger than the node timeout:
     * the store nodes may still be registering again with the blocks they hold.
     */
    private boolean rebuilding() {
        return term != 0 && clock.getAsLong() - termStart < nodeTimeoutNanos;
    }

    /** Releases the space of uncommitted keys (a writer that failed). Committed keys are kept. */
    public synchronized void putAbort(BlockKey[] keys) {
        for (BlockKey key : keys) {
            BlockState b = blocks.get(key);
            if (b != null && !b.committed) {
                blocks.remove(key);
            }
        }
    }

    /** {@link #remove(BlockKey[])}: the block was removed. */
    public static final byte REMOVED = 0;
    /** {@link #remove(BlockKey[])}: no committed block has the key. */
    public static final byte NOT_FOUND = 1;
    /** {@link #remove(BlockKey[])}: the block is leased by a reader and was kept. */
    public static final byte LEASED = 2;

    /**
     * Removes committed blocks and frees their space. A leased block is kept (a reader is
     * moving it); an uncommitted one is not found (its writer aborts it).
     *
     * @return per key, in order: {@link #REMOVED}, {@link #NOT_FOUND} or {@link #LEASED}
     */
    public synchronized byte[] remove(BlockKey[] keys) {
        byte[] out = new byte[keys.length];
        for (int i = 0; i < keys.length; i++) {
            BlockState b = blocks.get(keys[i]);
            if (b == null || !b.committed) {
                out[i] = NOT_FOUND;
            } else if (b.leases > 0) {
                out[i] = LEASED;
            } else {
                blocks.remove(keys[i]);
                out[i] = REMOVED;
            }
        }
        return out;
    }

    /**
     * Removes every committed block that no reader leases and frees its space; without
     * {@code force}, hard-pinned blocks stay too. Blocks being written and leased blocks always
     * stay (a writer or a reader is moving their bytes).
     *
     * @param force whether hard-pinned blocks are removed as well
     * @return how many blocks were removed
     */
    public synchronized long removeAll(boolean force) {
        List<BlockKey> removed = new ArrayList<>();
        for (BlockState b : blocks.all()) {
            if (b.committed && b.leases == 0 && (force || !b.hardPin)) {
                removed.add(b.key);
            }
        }
        removed.forEach(blocks::remove);
        return removed.size();
    }

    /**
     * Removes every committed block whose recorded string key ({@link #putStart(BlockKey[],
     * long, int, String, String[])}) matches {@code pattern} somewhere in it (as
     * {@link java.util.regex.Matcher#find()} does), sparing, as {@link #removeAll} does, the
     * leased ones and, unless {@code force}, the hard-pinned ones. Blocks put without a name are
     * never matched.
     *
     * @param pattern a {@link java.util.regex.Pattern} regular expression
     * @return how many blocks were removed
     * @throws MasterException REFUSED when the pattern is not a valid regular expression
     */
    public synchronized long removeByRegex(String pattern, boolean force) {
        java.util.regex.Pattern compiled;
        try {
            compiled = java.util.regex.Pattern.compile(pattern);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new MasterException(Reason.REFUSED, "not a regular expression: " + e.getMessage());
        }
        List<BlockKey> removed = new ArrayList<>();
        for (BlockState b : blocks.all()) {
            if (b.committed && b.leases == 0 && (force || !b.hardPin) && b.name != null
                    && compiled.matcher(b.name).find()) {
                removed.add(b.key);
            }
        }
        removed.forEach(blocks::remove);
        return removed.size();
    }

    /**
     * Pins committed blocks against eviction: a hard pin until {@link #unpin}, a soft pin
     * until {@code ttlMillis} from now (a later soft pin extends, never shortens, it; until
     * then the block is evicted only when no unpinned block can be).
     *
     * @return how many keys were pinned (unknown and uncommitted keys are skipped)
     */
    public synchronized int pin(BlockKey[] keys, boolean hard, long ttlMillis) {
        long until = clock.getAsLong() + ttlMillis * 1_000_000L;
        int pinned = 0;
        for (BlockKey key : keys) {
            BlockState b = blocks.get(key);
            if (b == null || !b.committed) {
                continue;
            }
            leases.pin(b, hard, until);
            pinned++;
        }
        return pinned;
    }

    /** Drops the hard and soft pins of the keys. */
    public synchronized void unpin(BlockKey[] keys) {
        for (BlockKey key : keys) {
            BlockState b = blocks.get(key);
            if (b != null) {
                leases.unpin(b);
            }
        }
    }

    /**
     * Leases the committed blocks among {@code keys} for {@code ttlMillis}; missing keys get
     * no replicas, except in a new leader's term younger than the node timeout, where an
     * unknown key is answered {@link Reason#BUSY} (its node may not have registered again
     * yet: ask again) and nothing is leased. Replicas in DRAM come first; a replica only on SSD gets a DRAM range on its
     * node to be loaded into (when none can be made, that replica is left out).
     */
    public synchronized Lease get(BlockKey[] keys, long ttlMillis) {
        if (rebuilding()) {
            for (BlockKey key : keys) {
                if (blocks.get(key) == null) {
                    throw new MasterException(Reason.BUSY, "block " + key + " is unknown to this leader elected "
                            + (clock.getAsLong() - termStart) / 1_000_000 + " ms ago (epoch " + term + "): the "
                            + "store nodes are registering again with their blocks; ask again");
                }
            }
        }
        List<List<Replica>> replicas = new ArrayList<>(keys.length);
        List<BlockState> leased = new ArrayList<>(keys.length);
        for (BlockKey key : keys) {
            BlockState b = blocks.get(key);
            if (b == null || !b.committed) {
                replicas.add(List.of());
                continue;
            }
            leases.lease(b);
            leased.add(b);
            List<Replica> copies = new ArrayList<>(b.copies.size());
            for (CopyState c : b.copies) {
                if (c.dram().readable()) {
                    copies.add(new Replica(key, c.segment, c.offset(), b.length, b.crc));
                }
            }
            if (copies.isEmpty()) {
                for (CopyState c : List.copyOf(b.copies)) {
                    Replica r = eviction.promotion(b, c);
                    if (r != null) {
                        copies.add(r);
                    }
                }
            }
            replicas.add(copies);
        }
        LeaseState lease = leases.grant(leased, clock.getAsLong() + ttlMillis * 1_000_000L);
        return new Lease(lease.id, ttlMillis, replicas);
    }

    /**
     * Extends a lease to {@code ttlMillis} from now (a reader that is still moving bytes).
     *
     * @return false when it had already expired
     */
    public synchronized boolean renew(long leaseId, long ttlMillis) {
        return leases.renew(leaseId, clock.getAsLong() + ttlMillis * 1_000_000L);
    }

    /**
     * Ends a lease.
     *
     * @return false when it had already expired (its blocks may have been reused since: a
     *         reader must then discard what it read)
     */
    public synchronized boolean release(long leaseId) {
        LeaseState lease = leases.release(leaseId);
        if (lease == null) {
            return false;
        }
        unlease(lease);
        return true;
    }

    /**
     * Expires what has timed out: dead nodes (their copies are dropped), leases,
     * uncommitted puts, and the GPU copies of engines that stopped reporting.
     *
     * @return ids of the nodes declared dead
     */
    public synchronized List<String> expire() {
        long now = clock.getAsLong();
        List<NodeState> silent = members.silent(now, nodeTimeoutNanos);
        List<String> dead = new ArrayList<>(silent.size());
        for (NodeState node : silent) {
            dropNode(node);
            dead.add(node.id);
        }
        for (LeaseState lease : leases.expire(now)) {
            unlease(lease);
        }
        for (BlockState stale : blocks.expiredPuts(created -> now - created > putTimeoutNanos)) {
            blocks.remove(stale.key);
        }
        gpuCopies.expire(now, nodeTimeoutNanos);
        eviction.demoteWhereNeeded();
        return dead;
    }

    public synchronized MasterStats stats() {
        long pending = 0;
        long under = 0;
        long pinned = 0;
        long now = clock.getAsLong();
        for (BlockState b : blocks.all()) {
            if (!b.committed) {
                pending++;
                continue;
            }
            if (b.copies.size() < b.wantedReplicas) {
                under++;
            }
            if (b.hardPin || b.softPinUntil > now) {
                pinned++;
            }
        }
        long backlog = members.backlog();
        long onSsd = blocks.all().stream().filter(b -> b.copies.stream().anyMatch(c -> c.ssd() == CopyState.Ssd.STORED)).count();
        return new MasterStats(members.nodes().size(), blocks.size() - pending, pending, members.capacityBytes(),
                members.usedBytes(), eviction.evictions, blocks.lost, leases.size(), under, pinned, backlog, onSsd, dramHits,
                ssdHits, eviction.demotions, eviction.promotions, demotionWaits,
                corruptCopies);
    }

    /** The committed blocks and their copies' bytes per tier now (walks every block: for metrics, not requests). */
    public synchronized TierUsage tierUsage() {
        long dramBlocks = 0;
        long dramBytes = 0;
        long ssdBlocks = 0;
        long ssdBytes = 0;
        for (BlockState b : blocks.all()) {
            if (!b.committed) {
                continue;
            }
            boolean inDram = false;
            boolean onSsd = false;
            for (CopyState c : b.copies) {
                if (c.dram().readable()) {
                    inDram = true;
                    dramBytes += c.length();
                }
                if (c.ssd() == CopyState.Ssd.STORED) {
                    onSsd = true;
                    ssdBytes += c.length();
                }
            }
            dramBlocks += inDram ? 1 : 0;
            ssdBlocks += onSsd ? 1 : 0;
        }
        return new TierUsage(dramBlocks, dramBytes, ssdBlocks, ssdBytes, gpuCopies.total());
    }

    /**
     * Drops the copy of block {@code key} in {@code segment} at {@code offset}: a reader (or
     * the node's scrub) found its bytes not matching the committed CRC32C {@code crc32c}. New
     * leases no longer offer the copy, and the node is told to forget it (a REMOVE update);
     * when it was the block's last copy the key is gone (a miss: a writer may put it again).
     * The copy's DRAM range is freed at once, or, while the block is leased (the reporter's own
     * lease, other readers'), when its last lease ends. A report that matches no committed
     * copy (removed, moved or dropped since, or another CRC) changes nothing.
     *
     * @return whether a copy was dropped
     */
    public synchronized boolean dropCorrupt(BlockKey key, String segment, long offset, int crc32c) {
        BlockState b = blocks.get(key);
        CopyState c = b == null ? null : b.copyIn(segment);
        if (c == null || !b.committed || b.crc != crc32c || c.offset() != offset || !c.inDram()) {
            return false;
        }
        log.queue(segment, IndexUpdate.Kind.REMOVE, b, c);
        b.removeCopy(c);
        corruptCopies++;
        SegmentState s = members.segment(segment);
        if (s != null) {
            if (b.dropped == null) {
                b.dropped = new ArrayList<>(1);
            }
            b.dropped.add(new BlockState.DroppedRange(s, c.offset()));
            if (b.leases == 0) {
                blocks.freeDropped(b);
            }
        }
        if (b.copies.isEmpty()) {
            blocks.forget(key);
        } else {
            blocks.retier(b);
        }
        return true;
    }

    /** Copies dropped by {@link #dropCorrupt} since start. */
    public synchronized long corruptCopies() {
        return corruptCopies;
    }

    private void unlease(LeaseState lease) {
        leases.unlease(lease, b -> {
            if (b.dropped != null) {
                blocks.freeDropped(b);
            }
        });
    }

    private void dropNode(NodeState node) {
        members.remove(node);
        for (String name : node.segments) {
            blocks.dropSegment(name);
        }
    }
}
