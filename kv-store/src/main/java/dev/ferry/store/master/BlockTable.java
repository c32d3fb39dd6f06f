package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.index.IndexedBlock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongPredicate;

/**
 * The blocks: key to {@link BlockState}, the uncommitted ones in the order their puts started
 * (so that the put timeout touches only the expired ones: the master's clock does not go
 * back), and the eviction policy, told of every block that comes and goes. Removing a block frees its DRAM and queues its removal to
 * the holding nodes. Not thread-safe: guarded by the master's lock.
 */
final class BlockTable {
    /** The policy's order, one queue per tier. */
    final TierQueues policy;
    private final Membership members;
    private final IndexLog log;
    private final Map<BlockKey, BlockState> blocks = new HashMap<>();
    /**
     * Blocks in the order their puts started; those committed or removed since are dropped
     * when they reach the front.
     */
    private final ArrayDeque<BlockState> pending = new ArrayDeque<>();
    /** Committed blocks whose last copy was lost (its node died, its SSD lost it). */
    long lost;

    BlockTable(EvictionPolicy policy, Membership members, IndexLog log) {
        this.policy = new TierQueues(policy);
        this.members = members;
        this.log = log;
    }

    BlockState get(BlockKey key) {
        return blocks.get(key);
    }

    /** The copy of block {@code key} in {@code segment}, or null. */
    CopyState copy(BlockKey key, String segment) {
        BlockState b = blocks.get(key);
        return b == null ? null : b.copyIn(segment);
    }

    Collection<BlockState> all() {
        return blocks.values();
    }

    int size() {
        return blocks.size();
    }

    /** Whether {@code b} is the block of its key now (not dropped, its key not taken by another). */
    boolean current(BlockState b) {
        return blocks.get(b.key) == b;
    }

    /** A new block being written (no copies yet), at the policy's most recent end. */
    BlockState start(BlockKey key, long bytes, long now, int replicas) {
        BlockState b = new BlockState(key, bytes, now, replicas);
        blocks.put(key, b);
        policy.onInsert(key);
        skipDone();
        pending.addLast(b);
        return b;
    }

    /** Publishes a written block. */
    void commit(BlockState b, int crc) {
        b.committed = true;
        b.crc = crc;
    }

    /** Takes out, earliest first, the uncommitted blocks whose start {@code expired} accepts. */
    List<BlockState> expiredPuts(LongPredicate expired) {
        List<BlockState> out = new ArrayList<>(0);
        for (BlockState b; skipDone() && expired.test((b = pending.peekFirst()).createdNanos); ) {
            out.add(pending.pollFirst());
        }
        return out;
    }

    /** Drops the blocks at the front that are no longer pending; returns whether one is left. */
    private boolean skipDone() {
        for (BlockState b; (b = pending.peekFirst()) != null; pending.pollFirst()) {
            if (!b.committed && blocks.get(b.key) == b) {
                return true;
            }
        }
        return false;
    }

    /**
     * Takes back a block a registering node kept (see {@link Master#registerNode}).
     *
     * @return whether it was taken
     */
    boolean takeBack(SegmentState state, NodeFeatures features, IndexedBlock k, long now) {
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
            b = new BlockState(k.key(), k.length(), now, 1);
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
        policy.place(b);
        return true;
    }

    /** Takes the block out of the map and the policy (and so out of the pending puts); returns it, or null. */
    BlockState forget(BlockKey key) {
        BlockState b = blocks.remove(key);
        if (b != null) {
            policy.onRemove(key);
        }
        return b;
    }

    /** Removes a block: frees its DRAM and, when it was committed, tells its nodes. */
    void remove(BlockKey key) {
        BlockState b = forget(key);
        if (b == null) {
            return;
        }
        for (CopyState c : b.copies) {
            SegmentState s = members.segment(c.segment);
            if (s != null && c.inDram()) {
                s.allocator().free(c.offset(), b.length);
            }
            c.detach();
            if (b.committed) {
                log.queue(c.segment, IndexUpdate.Kind.REMOVE, b, c);
            }
        }
    }

    /** Frees the DRAM range of a copy, which stays on SSD (or goes, for the caller to decide). */
    void freeDram(BlockState b, CopyState c) {
        SegmentState s = members.segment(c.segment);
        if (s != null) {
            s.allocator().free(c.offset(), b.length);
        }
        c.dram(CopyState.Dram.NONE, IndexedBlock.ON_SSD);
        retier(b);
    }

    /**
     * Puts a current block in the eviction queue of its tier after its copies changed: a block
     * that gains a DRAM copy must be placed before the next victim search.
     */
    void retier(BlockState b) {
        if (current(b)) {
            policy.place(b);
        }
    }

    /** Drops every copy in {@code segment} (its node is gone); blocks left with none are lost. */
    void dropSegment(String segment) {
        List<BlockKey> lostKeys = new ArrayList<>();
        for (BlockState b : blocks.values()) {
            CopyState c = b.copyIn(segment);
            if (c != null) {
                b.removeCopy(c);
                if (b.copies.isEmpty()) {
                    lostKeys.add(b.key);
                } else {
                    retier(b);
                }
            }
        }
        for (BlockKey key : lostKeys) {
            BlockState b = forget(key);
            if (b.committed) {
                lost++;
            }
        }
    }

    /** Frees the DRAM ranges of copies dropped as corrupt while the block was leased. */
    void freeDropped(BlockState b) {
        for (BlockState.DroppedRange r : b.dropped) {
            // Only in the registration it came from: a node that registered again has a new allocator.
            if (members.segment(r.segment().descriptor().name()) == r.segment()) {
                r.segment().allocator().free(r.offset(), b.length);
            }
        }
        b.dropped = null;
    }
}
