package dev.ferry.store.master;

import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The metadata service: store nodes and their segments, block key to replica, allocation,
 * eviction and leases. Put is two-phase ({@link #putStart} allocates, the writer moves the
 * bytes, {@link #putCommit} publishes); a block is visible to {@link #lookupPrefix} and
 * {@link #get} only once committed, and a writer that never commits has its space
 * reclaimed after the put timeout.
 *
 * <p>Recency: a prefix lookup touches the hit blocks in key order and a put touches or
 * inserts every key in order, so with one request at a time the hit ratio equals the
 * reference LRU replay of ../shared/traces/README.md. Gets take leases without touching.
 *
 * <p>Thread-safe: every method is synchronized (the master is one small state machine).
 * Times come from the supplied clock, in nanoseconds.
 */
public final class Master {
    private final EvictionPolicy policy;
    private final LongSupplier clock;
    private final long nodeTimeoutNanos;
    private final long putTimeoutNanos;
    private final Map<String, Node> nodes = new HashMap<>();
    private final Map<String, SegmentState> segments = new LinkedHashMap<>();
    private final Map<Long, Block> blocks = new HashMap<>();
    private final Map<Long, LeaseState> leases = new HashMap<>();
    private long nextLease = 1;
    private long evictions;
    private long lostBlocks;

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

    /** Registers a node's segment (again after a restart: its old blocks are dropped). */
    public synchronized void registerNode(String nodeId, SegmentDescriptor segment) {
        Node old = nodes.get(nodeId);
        if (old != null) {
            dropNode(old);
        }
        SegmentState previous = segments.get(segment.name());
        if (previous != null) {
            throw new RpcException(RpcException.REFUSED, "segment '" + segment.name() + "' is already registered by node '"
                    + previous.nodeId + "'");
        }
        Node node = new Node(nodeId, clock.getAsLong());
        node.segments.add(segment.name());
        nodes.put(nodeId, node);
        segments.put(segment.name(), new SegmentState(nodeId, segment, new OffsetAllocator(segment.bytes())));
    }

    /**
     * @throws RpcException REFUSED when the node is unknown (declared dead): it must register again
     */
    public synchronized void heartbeat(String nodeId) {
        Node node = nodes.get(nodeId);
        if (node == null) {
            throw new RpcException(RpcException.REFUSED, "unknown node '" + nodeId + "': register again");
        }
        node.lastHeartbeat = clock.getAsLong();
    }

    /**
     * Declares the node that owns {@code segment} dead at once (its blocks are dropped),
     * after the caller has confirmed it is unreachable.
     *
     * @return the node's id, or null when no node owns the segment any more
     */
    public synchronized String declareDead(String segment) {
        SegmentState s = segments.get(segment);
        if (s == null) {
            return null;
        }
        Node node = nodes.get(s.nodeId);
        if (node != null) {
            dropNode(node);
        }
        return s.nodeId;
    }

    /** The descriptor of a segment, or null. */
    public synchronized SegmentDescriptor segment(String name) {
        SegmentState s = segments.get(name);
        return s == null ? null : s.descriptor;
    }

    /**
     * @return how many leading keys are committed blocks (the prefix hit), touching them in order
     */
    public synchronized int lookupPrefix(long[] keys) {
        int hits = 0;
        while (hits < keys.length) {
            Block b = blocks.get(keys[hits]);
            if (b == null || !b.committed) {
                break;
            }
            hits++;
        }
        for (int i = 0; i < hits; i++) {
            policy.onAccess(keys[i]);
        }
        return hits;
    }

    /**
     * Allocates space for the keys not in the store, evicting as the policy says when full;
     * keys already present (committed or being written) are touched and reported as existing.
     *
     * @param keys        block keys, in request order
     * @param blockBytes  bytes of each block
     * @return one placement per key
     * @throws RpcException NO_SPACE when a block fits no segment even after evicting every
     *                      evictable block; what this call allocated is released
     */
    public synchronized List<Placement> putStart(long[] keys, long blockBytes) {
        if (blockBytes < 1) {
            throw new RpcException(RpcException.REFUSED, "block size must be at least 1 byte");
        }
        if (segments.values().stream().noneMatch(seg -> seg.allocator.capacity() >= blockBytes)) {
            // Evicting could not help: refuse before evicting anything.
            throw new RpcException(RpcException.NO_SPACE, "no room for a block of " + blockBytes
                    + " bytes: no segment is that large");
        }
        List<Placement> placements = new ArrayList<>(keys.length);
        long now = clock.getAsLong();
        for (long key : keys) {
            Block existing = blocks.get(key);
            if (existing != null) {
                policy.onAccess(key);
                placements.add(new Placement(key, null, existing.offset, existing.length));
                continue;
            }
            Block block = allocate(key, blockBytes, now);
            if (block == null) {
                for (Placement p : placements) {
                    if (!p.exists()) {
                        remove(p.key());
                    }
                }
                throw new RpcException(RpcException.NO_SPACE, "no room for a block of " + blockBytes
                        + " bytes: store holds " + usedBytes() + " of " + capacityBytes()
                        + " bytes and nothing more is evictable (leased or being written)");
            }
            placements.add(new Placement(key, block.segment, block.offset, block.length));
        }
        return placements;
    }

    private Block allocate(long key, long bytes, long now) {
        while (true) {
            SegmentState best = null;
            for (SegmentState s : segments.values()) {
                if (s.allocator.largestFree() >= OffsetAllocator.aligned(bytes)
                        && (best == null || s.allocator.freeBytes() > best.allocator.freeBytes())) {
                    best = s;
                }
            }
            if (best != null) {
                long offset = best.allocator.allocate(bytes);
                Block block = new Block(key, best.descriptor.name(), offset, bytes, now);
                blocks.put(key, block);
                policy.onInsert(key);
                return block;
            }
            long victim = policy.victim(k -> {
                Block b = blocks.get(k);
                return b != null && b.committed && b.leases == 0;
            });
            if (victim == EvictionPolicy.NONE) {
                return null;
            }
            remove(victim);
            evictions++;
        }
    }

    /**
     * Publishes written blocks. Keys not pending (already committed, or reclaimed) are ignored.
     *
     * @param crcs CRC32C of each block's bytes, in key order
     */
    public synchronized void putCommit(long[] keys, int[] crcs) {
        if (crcs.length != keys.length) {
            throw new RpcException(RpcException.REFUSED, "commit has " + keys.length + " keys but " + crcs.length + " CRCs");
        }
        for (int i = 0; i < keys.length; i++) {
            Block b = blocks.get(keys[i]);
            if (b != null && !b.committed) {
                b.committed = true;
                b.crc = crcs[i];
            }
        }
    }

    /** Releases the space of uncommitted keys (a writer that failed). Committed keys are kept. */
    public synchronized void putAbort(long[] keys) {
        for (long key : keys) {
            Block b = blocks.get(key);
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
            Block b = blocks.get(keys[i]);
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

    /** Leases the committed blocks among {@code keys} for {@code ttlMillis}; missing keys get null. */
    public synchronized Lease get(long[] keys, long ttlMillis) {
        List<Replica> replicas = new ArrayList<>(keys.length);
        List<Long> leased = new ArrayList<>(keys.length);
        for (long key : keys) {
            Block b = blocks.get(key);
            if (b == null || !b.committed) {
                replicas.add(null);
                continue;
            }
            b.leases++;
            leased.add(key);
            replicas.add(new Replica(key, b.segment, b.offset, b.length, b.crc));
        }
        long id = nextLease++;
        leases.put(id, new LeaseState(leased, clock.getAsLong() + ttlMillis * 1_000_000L));
        return new Lease(id, ttlMillis, replicas);
    }

    /**
     * Ends a lease.
     *
     * @return false when it had already expired (its blocks may have been reused since: a
     *         reader must then discard what it read)
     */
    public synchronized boolean release(long leaseId) {
        LeaseState lease = leases.remove(leaseId);
        if (lease == null) {
            return false;
        }
        unpin(lease);
        return true;
    }

    /**
     * Expires what has timed out: dead nodes (their blocks are dropped), leases, and
     * uncommitted puts.
     *
     * @return ids of the nodes declared dead
     */
    public synchronized List<String> expire() {
        long now = clock.getAsLong();
        List<String> dead = new ArrayList<>();
        for (Iterator<Node> it = nodes.values().iterator(); it.hasNext(); ) {
            Node node = it.next();
            if (now - node.lastHeartbeat > nodeTimeoutNanos) {
                it.remove();
                dropNode(node);
                dead.add(node.id);
            }
        }
        for (Iterator<LeaseState> it = leases.values().iterator(); it.hasNext(); ) {
            LeaseState lease = it.next();
            if (now > lease.deadline) {
                it.remove();
                unpin(lease);
            }
        }
        List<Long> stale = new ArrayList<>();
        for (Block b : blocks.values()) {
            if (!b.committed && now - b.createdNanos > putTimeoutNanos) {
                stale.add(b.key);
            }
        }
        stale.forEach(this::remove);
        return dead;
    }

    public synchronized MasterStats stats() {
        long pending = blocks.values().stream().filter(b -> !b.committed).count();
        return new MasterStats(nodes.size(), blocks.size() - pending, pending, capacityBytes(), usedBytes(), evictions,
                lostBlocks, leases.size());
    }

    private long capacityBytes() {
        return segments.values().stream().mapToLong(s -> s.allocator.capacity()).sum();
    }

    private long usedBytes() {
        return segments.values().stream().mapToLong(s -> s.allocator.capacity() - s.allocator.freeBytes()).sum();
    }

    private void unpin(LeaseState lease) {
        for (long key : lease.keys) {
            Block b = blocks.get(key);
            if (b != null && b.leases > 0) {
                b.leases--;
            }
        }
    }

    private void dropNode(Node node) {
        nodes.remove(node.id);
        for (String name : node.segments) {
            segments.remove(name);
            List<Long> lost = new ArrayList<>();
            for (Block b : blocks.values()) {
                if (b.segment.equals(name)) {
                    lost.add(b.key);
                }
            }
            for (long key : lost) {
                blocks.remove(key);
                policy.onRemove(key);
            }
            lostBlocks += lost.size();
        }
    }

    private void remove(long key) {
        Block b = blocks.remove(key);
        if (b == null) {
            return;
        }
        policy.onRemove(key);
        SegmentState s = segments.get(b.segment);
        if (s != null) {
            s.allocator.free(b.offset, b.length);
        }
    }

    private static final class Node {
        final String id;
        final List<String> segments = new ArrayList<>(1);
        long lastHeartbeat;

        Node(String id, long now) {
            this.id = id;
            this.lastHeartbeat = now;
        }
    }

    private record SegmentState(String nodeId, SegmentDescriptor descriptor, OffsetAllocator allocator) {
    }

    private static final class Block {
        final long key;
        final String segment;
        final long offset;
        final long length;
        final long createdNanos;
        boolean committed;
        int crc;
        int leases;

        Block(long key, String segment, long offset, long length, long createdNanos) {
            this.key = key;
            this.segment = segment;
            this.offset = offset;
            this.length = length;
            this.createdNanos = createdNanos;
        }
    }

    private record LeaseState(List<Long> keys, long deadline) {
    }
}
