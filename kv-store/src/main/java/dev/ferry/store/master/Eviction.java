package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.eviction.EvictionPolicy;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Eviction and the tiers: frees DRAM in the policy's order ({@link #makeRoom}; blocks under an
 * unexpired soft pin only when no unpinned block can go), demotes the
 * coldest blocks of a full SSD-backed node to its SSD ({@link #demote}), follows the node's
 * reports of demotions written, promotions loaded and SSD blocks lost, and promotes a block
 * found only on SSD on a get ({@link #promotion}). What a segment has on its way to SSD is
 * counted in its {@link SegmentState}, so no step walks the blocks. The searches for DRAM victims
 * and for SSD-only ones each walk their own tier's queue ({@link TierQueues}). Not thread-safe: guarded
 * by the master's lock.
 */
final class Eviction {
    /** What {@link #makeRoom} achieved. */
    enum Room { FREED, WAIT_FOR_DEMOTION, NONE }

    private final BlockTable blocks;
    private final Membership members;
    private final IndexLog log;
    private final LongSupplier clock;
    private final TierQueues policy;
    long evictions;
    long demotions;
    long promotions;

    Eviction(BlockTable blocks, Membership members, IndexLog log, LongSupplier clock) {
        this.blocks = blocks;
        this.members = members;
        this.log = log;
        this.clock = clock;
        this.policy = blocks.policy;
    }

    /**
     * Frees DRAM in a segment {@code where} accepts, in the policy's order among evictable
     * blocks: first by dropping a DRAM copy that the node's SSD tier also holds (nothing is
     * lost); else, when {@code mayWait}, by demoting to SSD (nothing freed yet: the caller
     * is to retry); else by evicting a block.
     */
    Room makeRoom(Predicate<BlockKey> candidate, Predicate<String> where, boolean mayWait) {
        BlockKey cheap = !inBothTiers(where) ? EvictionPolicy.NONE
                : policy.victim(k -> candidate.test(k) && evictable(k) && dramCopy(k, where, true) != null);
        if (cheap != EvictionPolicy.NONE) {
            BlockState b = blocks.get(cheap);
            CopyState c = dramCopy(cheap, where, true);
            log.queue(c.segment, IndexUpdate.Kind.DRAM_FREED, b, c);
            blocks.freeDram(b, c);
            return Room.FREED;
        }
        if (mayWait && demotionUnderWay(where)) {
            return Room.WAIT_FOR_DEMOTION;
        }
        BlockKey victim = policy.victim(k -> candidate.test(k) && evictable(k) && dramCopy(k, where, false) != null);
        if (victim == EvictionPolicy.NONE) {
            // Soft pins only order eviction: when no unpinned block can go, a soft-pinned one does.
            victim = policy.victim(k -> candidate.test(k) && softPinned(k) && dramCopy(k, where, false) != null);
        }
        if (victim == EvictionPolicy.NONE) {
            return Room.NONE;
        }
        blocks.remove(victim);
        evictions++;
        return Room.FREED;
    }

    /** Whether a segment {@code where} accepts has a DRAM copy that its node's SSD also holds. */
    private boolean inBothTiers(Predicate<String> where) {
        for (SegmentState s : members.segments()) {
            if (s.inBothTiers() > 0 && where.test(s.descriptor().name())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Starts demotion in the full SSD-backed segments {@code where} accepts, and says whether
     * any of them has blocks on their way to SSD whose demotion moved lately.
     */
    private boolean demotionUnderWay(Predicate<String> where) {
        long now = clock.getAsLong();
        boolean underWay = false;
        for (SegmentState s : members.segments()) {
            if (members.demotesTo(s) && where.test(s.descriptor().name())) {
                demote(s);
                underWay |= now - s.demotionProgressNanos < Master.DEMOTION_STALL_NANOS && s.demoting() > 0;
            }
        }
        return underWay;
    }

    /** A readable DRAM copy of the block in a segment {@code where} accepts (also on SSD, if asked), or null. */
    private CopyState dramCopy(BlockKey key, Predicate<String> where, boolean onSsd) {
        for (CopyState c : blocks.get(key).copies) {
            if (c.dram().readable() && (!onSsd || c.ssd() == CopyState.Ssd.STORED)
                    && members.segment(c.segment) != null && where.test(c.segment)) {
                return c;
            }
        }
        return null;
    }

    /** Whether the block may leave now: committed, not leased, not pinned. */
    boolean evictable(BlockKey key) {
        BlockState b = blocks.get(key);
        return b != null && b.committed && b.leases == 0 && !b.hardPin && b.softPinUntil <= clock.getAsLong();
    }

    /** Whether the block may leave only once no unpinned one can: committed, not leased, not hard-pinned, soft-pinned. */
    private boolean softPinned(BlockKey key) {
        BlockState b = blocks.get(key);
        return b != null && b.committed && b.leases == 0 && !b.hardPin && b.softPinUntil > clock.getAsLong();
    }

    /** Demotes in every full segment whose node takes demotions now. */
    void demoteWhereNeeded() {
        for (SegmentState s : members.segments()) {
            if (members.demotesTo(s)) {
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
        if (used <= capacity * Master.HIGH_WATERMARK) {
            return;
        }
        String name = s.descriptor().name();
        long ssdCapacity = members.node(s.nodeId()).features.ssdBytes();
        while (used - s.demotingBytes() > capacity * Master.LOW_WATERMARK) {
            BlockKey victim = policy.victim(k -> evictable(k) && demotable(k, name));
            if (victim == EvictionPolicy.NONE) {
                return;
            }
            BlockState b = blocks.get(victim);
            CopyState c = b.copyIn(name);
            if (c.ssd() != CopyState.Ssd.STORED) {
                while (s.ssdBytes() + b.length > ssdCapacity) {
                    BlockKey cold = policy.ssdVictim(k -> evictable(k) && onlyOnSsd(k, name));
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
            log.queue(name, IndexUpdate.Kind.DEMOTE, b, c);
        }
    }

    private boolean demotable(BlockKey key, String segment) {
        CopyState c = blocks.copy(key, segment);
        return c != null && c.dram() == CopyState.Dram.RESIDENT;
    }

    private boolean onlyOnSsd(BlockKey key, String segment) {
        CopyState c = blocks.copy(key, segment);
        return c != null && c.ssd() == CopyState.Ssd.STORED && c.dram() == CopyState.Dram.NONE;
    }

    /** Evicts a block's SSD-only copy in {@code segment} (the block, when it was its last). */
    private void dropSsdCopy(BlockKey key, String segment) {
        BlockState b = blocks.get(key);
        CopyState c = b.copyIn(segment);
        log.queue(segment, IndexUpdate.Kind.REMOVE, b, c);
        b.removeCopy(c);
        if (b.copies.isEmpty()) {
            blocks.forget(key);
            evictions++;
        } else {
            blocks.retier(b);
        }
    }

    /** The node wrote a block to SSD: its DRAM is freed unless a reader holds it now. */
    void demoted(String segment, BlockKey key) {
        BlockState b = blocks.get(key);
        CopyState c = b == null ? null : b.copyIn(segment);
        if (c == null) {
            return; // removed meanwhile: the REMOVE update that followed the DEMOTE clears the SSD
        }
        c.ssd(CopyState.Ssd.STORED);
        if (c.dram() == CopyState.Dram.DEMOTING) {
            c.dram(CopyState.Dram.RESIDENT);
            demotions++;
            SegmentState s = members.segment(segment);
            s.demotionProgressNanos = clock.getAsLong();
            s.demotionFailed = false;
            if (b.leases == 0) {
                blocks.freeDram(b, c);
            }
        }
    }

    /** The node loaded a promoted block into DRAM: it is readable there. */
    void loaded(String segment, BlockKey key) {
        CopyState c = blocks.copy(key, segment);
        if (c != null && c.dram() == CopyState.Dram.LOADING) {
            c.dram(CopyState.Dram.RESIDENT);
        }
    }

    /** The node's SSD tier lost a block: a copy left with neither DRAM nor SSD goes. */
    void ssdGone(String segment, BlockKey key) {
        BlockState b = blocks.get(key);
        CopyState c = b == null ? null : b.copyIn(segment);
        if (c == null) {
            return;
        }
        c.ssd(CopyState.Ssd.NONE);
        if (c.dram() == CopyState.Dram.DEMOTING) {
            c.dram(CopyState.Dram.RESIDENT);
            members.segment(segment).demotionFailed = true; // the write failed: no progress
        }
        if (c.dram() == CopyState.Dram.LOADING) {
            blocks.freeDram(b, c);
        }
        if (!c.inDram()) {
            b.removeCopy(c);
            if (b.copies.isEmpty()) {
                blocks.forget(key);
                blocks.lost++;
            } else {
                blocks.retier(b);
            }
        }
    }

    /** A replica to load from the SSD of the copy's node into DRAM, or null when there is no room. */
    Replica promotion(BlockState b, CopyState c) {
        SegmentState s = members.segment(c.segment);
        NodeState node = s == null ? null : members.node(s.nodeId());
        if (node == null || c.ssd() != CopyState.Ssd.STORED || node.features.loadEndpoint().isEmpty()) {
            return null;
        }
        if (!c.inDram()) {
            long size = OffsetAllocator.aligned(b.length);
            while (s.allocator().largestFree() < size) {
                if (makeRoom(k -> !k.equals(b.key), c.segment::equals, false) != Room.FREED) {
                    return null;
                }
            }
            c.dram(CopyState.Dram.LOADING, s.allocator().allocate(b.length));
            blocks.retier(b); // back in the DRAM queue before the next search
            promotions++;
        }
        return new Replica(b.key, c.segment, c.offset(), b.length, b.crc, node.features.loadEndpoint());
    }
}
