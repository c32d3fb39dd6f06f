package dev.ferry.store.master;

import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.master.MasterException.Reason;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>Eviction never takes a block that is being written, leased, hard-pinned, or soft-pinned
 * before its deadline (Mooncake Store's hard and soft pins).
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
 * <p>Thread-safe: every method is synchronized (the master is one small state machine).
 * Times come from the supplied clock, in nanoseconds.
 */
public final class Master {
    private static final Logger LOG = LoggerFactory.getLogger(Master.class);
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

    /** What {@link #makeRoom} achieved. */
    private enum Room { FREED, WAIT_FOR_DEMOTION, NONE }

    private final EvictionPolicy policy;
    private final LongSupplier clock;
    private final long nodeTimeoutNanos;
    private final long putTimeoutNanos;
    private final Map<String, NodeState> nodes = new HashMap<>();
    private final Map<String, SegmentState> segments = new LinkedHashMap<>();
    private final Map<Long, BlockState> blocks = new HashMap<>();
    private final LeaseTable leases = new LeaseTable();
    /** Uncommitted blocks by the time their put started, for the put timeout. */
    private final ExpiryQueue<BlockState> pending = new ExpiryQueue<>();
    private long evictions;
    private long lostBlocks;
    private long corruptCopies;
    private long dramHits;
    private long ssdHits;
    private long demotions;
    private long promotions;
    private long demotionWaits;
    private long lastCommitDemotion = Long.MIN_VALUE / 2;

    /**
     * @param policy           eviction policy
     * @param clock            nanosecond clock ({@code System::nanoTime} in production)
     * @param nodeTimeoutNanos a node silent this long is declared dead, ns
     * @param putTimeoutNanos  an uncommitted put older than this is reclaimed, ns
     */
    public Master(EvictionPolicy policy, LongSupplier clock, long nodeTimeoutNanos, long putTimeoutNanos) {
        this.policy = policy;
        this.clock = clock;
        this.nodeTimeoutNanos = nodeTimeoutNanos;
        this.putTimeoutNanos = putTimeoutNanos;
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
        NodeState old = nodes.get(nodeId);
        if (old != null) {
            dropNode(old);
        }
        SegmentState previous = segments.get(segment.name());
        if (previous != null) {
            throw new MasterException(Reason.REFUSED, "segment '" + segment.name() + "' is already registered by node '"
                    + previous.nodeId() + "'");
        }
        NodeState node = new NodeState(nodeId, clock.getAsLong(), features);
        node.segments.add(segment.name());
        nodes.put(nodeId, node);
        SegmentState state = new SegmentState(nodeId, segment, new OffsetAllocator(segment.bytes()));
        segments.put(segment.name(), state);
        int taken = 0;
        for (IndexedBlock k : kept) {
            if (takeBack(state, features, k)) {
                taken++;
            }
        }
        return taken;
    }

    private boolean takeBack(SegmentState state, NodeFeatures features, IndexedBlock k) {
        String name = state.descriptor().name();
        boolean valid = k.length() >= 1 && (k.onSsd() ? features.ssd()
                : k.offset() >= 0 && k.offset() + k.length() <= state.descriptor().bytes());
        BlockState b = blocks.get(k.key());
        if (!valid || b != null && (!b.committed || b.length != k.length() || b.crc != k.crc32c())) {
            return false;
        }
        CopyState copy = b == null ? null : b.copyIn(name);
        if (copy != null && (k.onSsd() ? copy.ssd() == CopyState.Ssd.STORED : copy.inDram())) {
            return false;
        }
        if (!k.onSsd() && !state.allocator().reserve(k.offset(), k.length())) {
            return false;
        }
        if (b == null) {
            b = new BlockState(k.key(), k.length(), clock.getAsLong(), 1);
            b.committed = true;
            b.crc = k.crc32c();
            blocks.put(k.key(), b);
            policy.onInsert(k.key());
        }
        if (copy == null) {
            copy = new CopyState(state, IndexedBlock.ON_SSD, b.length);
            b.copies.add(copy);
        }
        if (k.onSsd()) {
            copy.ssd(CopyState.Ssd.STORED);
        } else {
            copy.dram(CopyState.Dram.RESIDENT, k.offset());
        }
        return true;
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
        NodeState node = nodes.get(nodeId);
        if (node == null) {
            throw new MasterException(Reason.REFUSED, "unknown node '" + nodeId + "': register again");
        }
        node.lastHeartbeat = clock.getAsLong();
        String segment = node.segments.getFirst();
        ssdHealth(node, report.ssd());
        for (long key : report.demoted()) {
            demoted(segment, key);
        }
        for (long key : report.loaded()) {
            CopyState c = copyOf(key, segment);
            if (c != null && c.dram() == CopyState.Dram.LOADING) {
                c.dram(CopyState.Dram.RESIDENT);
            }
        }
        for (long key : report.ssdGone()) {
            ssdGone(segment, key);
        }
        return node.updatesAfter(report.ackedSeq(), MAX_UPDATES_PER_HEARTBEAT);
    }

    private void ssdHealth(NodeState node, SsdHealth now) {
        if (node.ssdHealth == now || !node.features.ssd()) {
            return;
        }
        if (now == SsdHealth.OK) {
            LOG.info("store node {}: SSD tier takes writes again; demotion resumes", node.id);
            for (String name : node.segments) {
                segments.get(name).demotionFailed = false; // its failures were the disk's, now over
            }
        } else {
            LOG.warn("store node {}: SSD tier {}; no demotion there, full DRAM evicts instead", node.id,
                    now == SsdHealth.FULL ? "full" : "failing");
        }
        node.ssdHealth = now;
    }

    /** Whether the master may demote blocks to the node's SSD tier now. */
    private static boolean demotesTo(NodeState node) {
        return node != null && node.features.ssd() && node.ssdHealth == SsdHealth.OK;
    }

    /**
     * What the node of {@code nodeId} last reported of its SSD tier ({@link SsdHealth#OK} for
     * a node without one).
     *
     * @throws MasterException REFUSED when the node is unknown
     */
    public synchronized SsdHealth ssdHealth(String nodeId) {
        NodeState node = nodes.get(nodeId);
        if (node == null) {
            throw new MasterException(Reason.REFUSED, "unknown node '" + nodeId + "'");
        }
        return node.ssdHealth;
    }

    /** The node wrote a block to SSD: its DRAM is freed unless a reader holds it now. */
    private void demoted(String segment, long key) {
        BlockState b = blocks.get(key);
        CopyState c = b == null ? null : b.copyIn(segment);
        if (c == null) {
            return; // removed meanwhile: the REMOVE update that followed the DEMOTE clears the SSD
        }
        c.ssd(CopyState.Ssd.STORED);
        if (c.dram() == CopyState.Dram.DEMOTING) {
            c.dram(CopyState.Dram.RESIDENT);
            demotions++;
            SegmentState s = segments.get(segment);
            s.demotionProgressNanos = clock.getAsLong();
            s.demotionFailed = false;
            if (b.leases == 0) {
                freeDram(b, c);
            }
        }
    }

    /** The node's SSD tier lost a block: a copy left with neither DRAM nor SSD goes. */
    private void ssdGone(String segment, long key) {
        BlockState b = blocks.get(key);
        CopyState c = b == null ? null : b.copyIn(segment);
        if (c == null) {
            return;
        }
        c.ssd(CopyState.Ssd.NONE);
        if (c.dram() == CopyState.Dram.DEMOTING) {
            c.dram(CopyState.Dram.RESIDENT);
            segments.get(segment).demotionFailed = true; // the write failed: no progress
        }
        if (c.dram() == CopyState.Dram.LOADING) {
            freeDram(b, c);
        }
        if (!c.inDram()) {
            b.removeCopy(c);
            if (b.copies.isEmpty()) {
                forget(key);
                lostBlocks++;
            }
        }
    }

    private CopyState copyOf(long key, String segment) {
        BlockState b = blocks.get(key);
        return b == null ? null : b.copyIn(segment);
    }

    private void freeDram(BlockState b, CopyState c) {
        SegmentState s = segments.get(c.segment);
        if (s != null) {
            s.allocator().free(c.offset(), b.length);
        }
        c.dram(CopyState.Dram.NONE, IndexedBlock.ON_SSD);
    }

    /**
     * Declares the node that owns {@code segment} dead at once (its copies are dropped),
     * after the caller has confirmed it is unreachable.
     *
     * @return the node's id, or null when no node owns the segment any more
     */
    public synchronized String declareDead(String segment) {
        SegmentState s = segments.get(segment);
        if (s == null) {
            return null;
        }
        NodeState node = nodes.get(s.nodeId());
        if (node != null) {
            dropNode(node);
        }
        return s.nodeId();
    }

    /** The descriptor of a segment, or null. */
    public synchronized SegmentDescriptor segment(String name) {
        SegmentState s = segments.get(name);
        return s == null ? null : s.descriptor();
    }

    /**
     * @return how many leading keys are committed blocks (the prefix hit), touching them in order
     */
    public synchronized int lookupPrefix(long[] keys) {
        int hits = 0;
        while (hits < keys.length) {
            BlockState b = blocks.get(keys[hits]);
            if (b == null || !b.committed) {
                break;
            }
            hits++;
        }
        for (int i = 0; i < hits; i++) {
            policy.onAccess(keys[i]);
            if (blocks.get(keys[i]).inDram()) {
                dramHits++;
            } else {
                ssdHits++;
            }
        }
        return hits;
    }

    /** Whether each key is a committed block; touches nothing. */
    public synchronized boolean[] exists(long[] keys) {
        boolean[] out = new boolean[keys.length];
        for (int i = 0; i < keys.length; i++) {
            BlockState b = blocks.get(keys[i]);
            out[i] = b != null && b.committed;
        }
        return out;
    }

    /** One replica per key, no preferred segment. */
    public synchronized List<Placement> putStart(long[] keys, long blockBytes) {
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
     *                         node), or null
     * @return per key in order: one placement with {@link Placement#exists()} when the key is
     *         present, else one placement per copy
     * @throws MasterException NO_SPACE when a block fits no segment even after evicting every
     *                      evictable block; BUSY when DRAM is full but blocks are being
     *                      demoted to SSD (retry shortly). Either way, what this call
     *                      allocated is released
     */
    public synchronized List<Placement> putStart(long[] keys, long blockBytes, int replicas, String preferredSegment) {
        if (blockBytes < 1) {
            throw new MasterException(Reason.REFUSED, "block size must be at least 1 byte");
        }
        if (replicas < 1) {
            throw new MasterException(Reason.REFUSED, "replica count must be at least 1, not " + replicas);
        }
        long largest = segments.values().stream().mapToLong(s -> s.allocator().capacity()).max().orElse(0);
        if (segments.isEmpty()) {
            throw new MasterException(Reason.NO_SPACE, "no room for a block of " + blockBytes
                    + " bytes: no store node is registered");
        }
        if (OffsetAllocator.aligned(blockBytes) > largest) {
            throw new MasterException(Reason.NO_SPACE, "no room for a block of " + blockBytes + " bytes: it is "
                    + "larger than any segment (the largest holds " + largest + " bytes); nothing was evicted");
        }
        List<Placement> placements = new ArrayList<>(keys.length * replicas);
        List<Long> allocated = new ArrayList<>(keys.length);
        long now = clock.getAsLong();
        for (long key : keys) {
            BlockState existing = blocks.get(key);
            if (existing != null) {
                policy.onAccess(key);
                placements.add(new Placement(key, null, 0, existing.length));
                continue;
            }
            BlockState block;
            try {
                block = allocate(key, blockBytes, replicas, preferredSegment, now);
            } catch (MasterException busy) {
                allocated.forEach(this::remove);
                demotionWaits++;
                throw busy;
            }
            if (block == null) {
                allocated.forEach(this::remove);
                throw new MasterException(Reason.NO_SPACE, "no room for a block of " + blockBytes
                        + " bytes: store holds " + usedBytes() + " of " + capacityBytes()
                        + " bytes and nothing more is evictable (leased, pinned or being written)");
            }
            allocated.add(key);
            for (CopyState c : block.copies) {
                placements.add(new Placement(key, c.segment, c.offset(), block.length));
            }
        }
        return placements;
    }

    private BlockState allocate(long key, long bytes, int replicas, String preferredSegment, long now) {
        BlockState block = new BlockState(key, bytes, now, replicas);
        blocks.put(key, block);
        policy.onInsert(key);
        block.pending = pending.add(now, block);
        List<String> usedNodes = new ArrayList<>(replicas);
        while (block.copies.size() < replicas) {
            SegmentState target = choose(bytes, preferredSegment, usedNodes);
            if (target == null) {
                // Only room on a node this block does not use yet helps.
                Room room = makeRoom(k -> true, segment -> !usedNodes.contains(segments.get(segment).nodeId()), true);
                if (room == Room.FREED) {
                    continue;
                }
                if (room == Room.WAIT_FOR_DEMOTION && block.copies.isEmpty()) {
                    forget(key);
                    throw new MasterException(Reason.BUSY, "DRAM is full and blocks are being demoted to SSD: retry");
                }
                break;
            }
            block.copies.add(new CopyState(target, target.allocator().allocate(bytes), bytes));
            usedNodes.add(target.nodeId());
        }
        if (block.copies.isEmpty()) {
            forget(key);
            return null;
        }
        return block;
    }

    /** The segment for the next copy: the preferred one, else the one with the most free bytes. */
    private SegmentState choose(long bytes, String preferredSegment, List<String> usedNodes) {
        long size = OffsetAllocator.aligned(bytes);
        SegmentState preferred = preferredSegment == null ? null : segments.get(preferredSegment);
        if (preferred != null && !usedNodes.contains(preferred.nodeId()) && preferred.allocator().largestFree() >= size) {
            return preferred;
        }
        SegmentState best = null;
        for (SegmentState s : segments.values()) {
            if (!usedNodes.contains(s.nodeId()) && s.allocator().largestFree() >= size
                    && (best == null || s.allocator().freeBytes() > best.allocator().freeBytes())) {
                best = s;
            }
        }
        return best;
    }

    /**
     * Frees DRAM in a segment {@code where} accepts, in the policy's order among evictable
     * blocks: first by dropping a DRAM copy that the node's SSD tier also holds (nothing is
     * lost); else, when {@code mayWait}, by demoting to SSD (nothing freed yet: the caller
     * is to retry); else by evicting a block.
     */
    private Room makeRoom(java.util.function.LongPredicate candidate, java.util.function.Predicate<String> where,
                          boolean mayWait) {
        long cheap = ssdNodes() == 0 ? EvictionPolicy.NONE
                : policy.victim(k -> candidate.test(k) && evictable(k) && dramCopy(k, where, true) != null);
        if (cheap != EvictionPolicy.NONE) {
            BlockState b = blocks.get(cheap);
            CopyState c = dramCopy(cheap, where, true);
            index(c.segment, IndexUpdate.Kind.DRAM_FREED, b, c);
            freeDram(b, c);
            return Room.FREED;
        }
        if (mayWait && demotionUnderWay(where)) {
            return Room.WAIT_FOR_DEMOTION;
        }
        long victim = policy.victim(k -> candidate.test(k) && evictable(k) && dramCopy(k, where, false) != null);
        if (victim == EvictionPolicy.NONE) {
            return Room.NONE;
        }
        remove(victim);
        evictions++;
        return Room.FREED;
    }

    /**
     * Starts demotion in the full SSD-backed segments {@code where} accepts, and says whether
     * any of them has blocks on their way to SSD whose demotion moved lately.
     */
    private boolean demotionUnderWay(java.util.function.Predicate<String> where) {
        long now = clock.getAsLong();
        boolean underWay = false;
        for (SegmentState s : segments.values()) {
            NodeState node = nodes.get(s.nodeId());
            if (demotesTo(node) && where.test(s.descriptor().name())) {
                demote(s);
                underWay |= now - s.demotionProgressNanos < DEMOTION_STALL_NANOS && s.demoting() > 0;
            }
        }
        return underWay;
    }

    private int ssdNodes() {
        int n = 0;
        for (NodeState node : nodes.values()) {
            if (node.features.ssd()) {
                n++;
            }
        }
        return n;
    }

    /** A readable DRAM copy of the block in a segment {@code where} accepts (also on SSD, if asked), or null. */
    private CopyState dramCopy(long key, java.util.function.Predicate<String> where, boolean onSsd) {
        for (CopyState c : blocks.get(key).copies) {
            if (c.dram().readable() && (!onSsd || c.ssd() == CopyState.Ssd.STORED) && segments.containsKey(c.segment)
                    && where.test(c.segment)) {
                return c;
            }
        }
        return null;
    }

    private boolean evictable(long key) {
        BlockState b = blocks.get(key);
        return b != null && b.committed && b.leases == 0 && !b.hardPin && b.softPinUntil <= clock.getAsLong();
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
    public synchronized CompletableFuture<Void> putCommit(long[] keys, int[] crcs) {
        if (crcs.length != keys.length) {
            throw new MasterException(Reason.REFUSED, "commit has " + keys.length + " keys but " + crcs.length + " CRCs");
        }
        List<NodeState> holders = new ArrayList<>(2);
        int unknown = 0;
        long firstUnknown = 0;
        for (int i = 0; i < keys.length; i++) {
            BlockState b = blocks.get(keys[i]);
            if (b == null && unknown++ == 0) {
                firstUnknown = keys[i];
            }
            if (b != null && !b.committed) {
                b.committed = true;
                pending.remove(b.pending);
                b.pending = null;
                b.crc = crcs[i];
                for (CopyState c : b.copies) {
                    NodeState holder = index(c.segment, IndexUpdate.Kind.ADD, b, c);
                    if (holder != null && !holders.contains(holder)) {
                        holders.add(holder);
                    }
                }
            }
        }
        CompletableFuture<Void> fence = switch (holders.size()) {
            case 0 -> CompletableFuture.completedFuture(null);
            case 1 -> holders.getFirst().acknowledged(holders.getFirst().lastSeq());
            default -> CompletableFuture.allOf(holders.stream().map(n -> n.acknowledged(n.lastSeq()))
                    .toArray(CompletableFuture[]::new));
        };
        // At once rather than at the next reaper pass (puts come in bursts), but one pass per
        // 10 ms at most: a pass walks the blocks of a full node.
        long now = clock.getAsLong();
        if (now - lastCommitDemotion >= 10_000_000L) {
            lastCommitDemotion = now;
            demoteWhereNeeded();
        }
        if (unknown > 0) {
            throw new MasterException(MasterException.Reason.CONFLICT, unknown + " of " + keys.length + " committed keys (first: "
                    + firstUnknown + ") are not being written: the put was reclaimed after "
                    + putTimeoutNanos / 1_000_000 + " ms, its node died, or the master restarted; put them again");
        }
        return fence;
    }

    /**
     * An index poll: records that the node applied the updates up to {@code ackedSeq} and
     * hands out the next ones, or, when there are none yet, a stage that completes when one
     * is queued (then poll again) or the node is dropped.
     *
     * @throws MasterException REFUSED when the node is unknown (declared dead): it must register again
     */
    public synchronized IndexPoll pollIndex(String nodeId, long ackedSeq) {
        NodeState node = nodes.get(nodeId);
        if (node == null) {
            throw new MasterException(MasterException.Reason.REFUSED, "unknown node '" + nodeId + "': register again");
        }
        List<IndexUpdate> updates = node.updatesAfter(ackedSeq, MAX_UPDATES_PER_HEARTBEAT);
        return new IndexPoll(updates, updates.isEmpty() ? node.news() : CompletableFuture.completedFuture(null));
    }

    /**
     * What {@link #pollIndex} found.
     *
     * @param updates the node's next updates, oldest first (empty when none is queued)
     * @param news    completes when there may be updates to poll for (at once when {@code updates} has some)
     */
    public record IndexPoll(List<IndexUpdate> updates, CompletableFuture<Void> news) {
    }

    /** Releases the space of uncommitted keys (a writer that failed). Committed keys are kept. */
    public synchronized void putAbort(long[] keys) {
        for (long key : keys) {
            BlockState b = blocks.get(key);
            if (b != null && !b.committed) {
                remove(key);
            }
        }
    }

    /** {@link #remove(long[])}: the block was removed. */
    public static final byte REMOVED = 0;
    /** {@link #remove(long[])}: no committed block has the key. */
    public static final byte NOT_FOUND = 1;
    /** {@link #remove(long[])}: the block is leased by a reader and was kept. */
    public static final byte LEASED = 2;

    /**
     * Removes committed blocks and frees their space. A leased block is kept (a reader is
     * moving it); an uncommitted one is not found (its writer aborts it).
     *
     * @return per key, in order: {@link #REMOVED}, {@link #NOT_FOUND} or {@link #LEASED}
     */
    public synchronized byte[] remove(long[] keys) {
        byte[] out = new byte[keys.length];
        for (int i = 0; i < keys.length; i++) {
            BlockState b = blocks.get(keys[i]);
            if (b == null || !b.committed) {
                out[i] = NOT_FOUND;
            } else if (b.leases > 0) {
                out[i] = LEASED;
            } else {
                remove(keys[i]);
                out[i] = REMOVED;
            }
        }
        return out;
    }

    /**
     * Pins committed blocks against eviction: a hard pin until {@link #unpin}, a soft pin
     * until {@code ttlMillis} from now (a later soft pin extends, never shortens, it).
     *
     * @return how many keys were pinned (unknown and uncommitted keys are skipped)
     */
    public synchronized int pin(long[] keys, boolean hard, long ttlMillis) {
        long until = clock.getAsLong() + ttlMillis * 1_000_000L;
        int pinned = 0;
        for (long key : keys) {
            BlockState b = blocks.get(key);
            if (b == null || !b.committed) {
                continue;
            }
            if (hard) {
                if (!b.hardPin && b.leases == 0) {
                    policy.onHeld(key);
                }
                b.hardPin = true;
            } else {
                b.softPinUntil = Math.max(b.softPinUntil, until);
            }
            pinned++;
        }
        return pinned;
    }

    /** Drops the hard and soft pins of the keys. */
    public synchronized void unpin(long[] keys) {
        for (long key : keys) {
            BlockState b = blocks.get(key);
            if (b != null) {
                if (b.hardPin && b.leases == 0) {
                    policy.onEvictable(key);
                }
                b.hardPin = false;
                b.softPinUntil = Long.MIN_VALUE;
            }
        }
    }

    /**
     * Leases the committed blocks among {@code keys} for {@code ttlMillis}; missing keys get
     * no replicas. Replicas in DRAM come first; a replica only on SSD gets a DRAM range on its
     * node to be loaded into (when none can be made, that replica is left out).
     */
    public synchronized Lease get(long[] keys, long ttlMillis) {
        List<List<Replica>> replicas = new ArrayList<>(keys.length);
        List<BlockState> leased = new ArrayList<>(keys.length);
        for (long key : keys) {
            BlockState b = blocks.get(key);
            if (b == null || !b.committed) {
                replicas.add(List.of());
                continue;
            }
            if (b.leases++ == 0 && !b.hardPin) {
                policy.onHeld(key);
            }
            leased.add(b);
            List<Replica> copies = new ArrayList<>(b.copies.size());
            for (CopyState c : b.copies) {
                if (c.dram().readable()) {
                    copies.add(new Replica(key, c.segment, c.offset(), b.length, b.crc));
                }
            }
            if (copies.isEmpty()) {
                for (CopyState c : List.copyOf(b.copies)) {
                    Replica r = promotion(b, c);
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

    /** A replica to load from the SSD of the copy's node into DRAM, or null when there is no room. */
    private Replica promotion(BlockState b, CopyState c) {
        SegmentState s = segments.get(c.segment);
        NodeState node = s == null ? null : nodes.get(s.nodeId());
        if (node == null || c.ssd() != CopyState.Ssd.STORED || node.features.loadEndpoint().isEmpty()) {
            return null;
        }
        if (!c.inDram()) {
            long size = OffsetAllocator.aligned(b.length);
            while (s.allocator().largestFree() < size) {
                if (makeRoom(k -> k != b.key, c.segment::equals, false) != Room.FREED) {
                    return null;
                }
            }
            c.dram(CopyState.Dram.LOADING, s.allocator().allocate(b.length));
            promotions++;
        }
        return new Replica(b.key, c.segment, c.offset(), b.length, b.crc, node.features.loadEndpoint());
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
     * Expires what has timed out: dead nodes (their copies are dropped), leases, and
     * uncommitted puts.
     *
     * @return ids of the nodes declared dead
     */
    public synchronized List<String> expire() {
        long now = clock.getAsLong();
        List<NodeState> silent = new ArrayList<>();
        for (NodeState node : nodes.values()) {
            if (now - node.lastHeartbeat > nodeTimeoutNanos) {
                silent.add(node);
            }
        }
        List<String> dead = new ArrayList<>(silent.size());
        for (NodeState node : silent) {
            dropNode(node);
            dead.add(node.id);
        }
        for (LeaseState lease : leases.expire(now)) {
            unlease(lease);
        }
        for (BlockState stale : pending.pollDue(created -> now - created > putTimeoutNanos)) {
            stale.pending = null;
            remove(stale.key);
        }
        demoteWhereNeeded();
        return dead;
    }

    private void demoteWhereNeeded() {
        for (SegmentState s : segments.values()) {
            if (demotesTo(nodes.get(s.nodeId()))) {
                demote(s);
            }
        }
    }

    /**
     * Asks the node of {@code s} to write its coldest evictable DRAM blocks to SSD while its
     * DRAM is fuller than the high watermark, until what stays is under the low watermark.
     * Room on the SSD tier is made first, by evicting its coldest SSD-only blocks in the
     * policy's order: the master's recency decides what leaves the SSD, not the tier's own
     * (which never sees prefix lookups), so DRAM and SSD together act as one store.
     */
    private void demote(SegmentState s) {
        long capacity = s.allocator().capacity();
        long used = capacity - s.allocator().freeBytes();
        if (used <= capacity * HIGH_WATERMARK) {
            return;
        }
        String name = s.descriptor().name();
        long ssdCapacity = nodes.get(s.nodeId()).features.ssdBytes();
        while (used - s.demotingBytes() > capacity * LOW_WATERMARK) {
            long victim = policy.victim(k -> evictable(k) && demotable(k, name));
            if (victim == EvictionPolicy.NONE) {
                return;
            }
            BlockState b = blocks.get(victim);
            CopyState c = b.copyIn(name);
            if (c.ssd() != CopyState.Ssd.STORED) {
                while (s.ssdBytes() + b.length > ssdCapacity) {
                    long cold = policy.victim(k -> evictable(k) && onlyOnSsd(k, name));
                    if (cold == EvictionPolicy.NONE) {
                        return; // the SSD is full of blocks that cannot leave now
                    }
                    dropSsdCopy(cold, name);
                }
            }
            c.dram(CopyState.Dram.DEMOTING);
            if (!s.demotionFailed) {
                s.demotionProgressNanos = clock.getAsLong();
            }
            index(name, IndexUpdate.Kind.DEMOTE, b, c);
        }
    }

    private boolean onlyOnSsd(long key, String segment) {
        CopyState c = copyOf(key, segment);
        return c != null && c.ssd() == CopyState.Ssd.STORED && c.dram() == CopyState.Dram.NONE;
    }

    /** Evicts a block's SSD-only copy in {@code segment} (the block, when it was its last). */
    private void dropSsdCopy(long key, String segment) {
        BlockState b = blocks.get(key);
        CopyState c = b.copyIn(segment);
        index(segment, IndexUpdate.Kind.REMOVE, b, c);
        b.removeCopy(c);
        if (b.copies.isEmpty()) {
            forget(key);
            evictions++;
        }
    }

    private boolean demotable(long key, String segment) {
        CopyState c = copyOf(key, segment);
        return c != null && c.dram() == CopyState.Dram.RESIDENT;
    }

    public synchronized MasterStats stats() {
        long pending = 0;
        long under = 0;
        long pinned = 0;
        long now = clock.getAsLong();
        for (BlockState b : blocks.values()) {
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
        long backlog = nodes.values().stream().mapToLong(NodeState::backlog).sum();
        long onSsd = blocks.values().stream().filter(b -> b.copies.stream().anyMatch(c -> c.ssd() == CopyState.Ssd.STORED)).count();
        return new MasterStats(nodes.size(), blocks.size() - pending, pending, capacityBytes(), usedBytes(), evictions,
                lostBlocks, leases.size(), under, pinned, backlog, onSsd, dramHits, ssdHits, demotions, promotions, demotionWaits,
                corruptCopies);
    }

    private long capacityBytes() {
        return segments.values().stream().mapToLong(s -> s.allocator().capacity()).sum();
    }

    private long usedBytes() {
        return segments.values().stream().mapToLong(s -> s.allocator().capacity() - s.allocator().freeBytes()).sum();
    }

    private void unlease(LeaseState lease) {
        for (BlockState b : lease.blocks) {
            if (b.leases > 0 && --b.leases == 0 && !b.hardPin && blocks.get(b.key) == b) {
                policy.onEvictable(b.key);
            }
            if (b.leases == 0 && b.dropped != null) {
                freeDropped(b);
            }
        }
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
    public synchronized boolean dropCorrupt(long key, String segment, long offset, int crc32c) {
        BlockState b = blocks.get(key);
        CopyState c = b == null ? null : b.copyIn(segment);
        if (c == null || !b.committed || b.crc != crc32c || c.offset() != offset || !c.inDram()) {
            return false;
        }
        index(segment, IndexUpdate.Kind.REMOVE, b, c);
        b.removeCopy(c);
        corruptCopies++;
        SegmentState s = segments.get(segment);
        if (s != null) {
            if (b.dropped == null) {
                b.dropped = new ArrayList<>(1);
            }
            b.dropped.add(new BlockState.DroppedRange(s, c.offset()));
            if (b.leases == 0) {
                freeDropped(b);
            }
        }
        if (b.copies.isEmpty()) {
            forget(key);
        }
        return true;
    }

    /** Copies dropped by {@link #dropCorrupt} since start. */
    public synchronized long corruptCopies() {
        return corruptCopies;
    }

    private void freeDropped(BlockState b) {
        for (BlockState.DroppedRange r : b.dropped) {
            // Only in the registration it came from: a node that registered again has a new allocator.
            if (segments.get(r.segment().descriptor().name()) == r.segment()) {
                r.segment().allocator().free(r.offset(), b.length);
            }
        }
        b.dropped = null;
    }

    private void dropNode(NodeState node) {
        nodes.remove(node.id);
        node.abandon();
        for (String name : node.segments) {
            segments.remove(name);
            List<Long> lost = new ArrayList<>();
            for (BlockState b : blocks.values()) {
                CopyState c = b.copyIn(name);
                if (c != null) {
                    b.removeCopy(c);
                    if (b.copies.isEmpty()) {
                        lost.add(b.key);
                    }
                }
            }
            for (long key : lost) {
                BlockState b = forget(key);
                if (b.committed) {
                    lostBlocks++;
                }
            }
        }
    }

    /** Takes the block out of the map, the pending puts and the policy; returns it, or null. */
    private BlockState forget(long key) {
        BlockState b = blocks.remove(key);
        if (b != null) {
            pending.remove(b.pending);
            b.pending = null;
            policy.onRemove(key);
        }
        return b;
    }

    private void remove(long key) {
        BlockState b = forget(key);
        if (b == null) {
            return;
        }
        for (CopyState c : b.copies) {
            SegmentState s = segments.get(c.segment);
            if (s != null && c.inDram()) {
                s.allocator().free(c.offset(), b.length);
            }
            c.detach();
            if (b.committed) {
                index(c.segment, IndexUpdate.Kind.REMOVE, b, c);
            }
        }
    }

    /**
     * Queues an update for the node of {@code segment}, when the node has a use for it.
     *
     * @return the node it was queued for, or null
     */
    private NodeState index(String segment, IndexUpdate.Kind kind, BlockState b, CopyState c) {
        SegmentState s = segments.get(segment);
        NodeState node = s == null ? null : nodes.get(s.nodeId());
        boolean wanted = node != null && switch (kind) {
            case ADD -> node.features.indexed();
            case REMOVE -> node.features.indexed() || node.features.ssd();
            case DRAM_FREED -> node.features.indexed();
            case DEMOTE -> node.features.ssd();
        };
        if (!wanted) {
            return null;
        }
        node.queue(kind, new IndexedBlock(b.key, c.offset(), b.length, b.crc), MAX_INDEX_BACKLOG);
        return node;
    }
}
