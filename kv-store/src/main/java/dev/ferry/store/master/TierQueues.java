package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.EvictionPolicy;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The eviction order split by tier: one queue of the policy for the blocks with a copy in DRAM
 * (or none yet), one ({@link EvictionPolicy#sibling}) for the blocks only on SSD, so that a
 * search for a DRAM victim does not walk past the SSD tier's blocks, nor a search for an SSD
 * victim past the DRAM tier's. A block moves between them in its place by recency
 * ({@link EvictionPolicy#moveTo}), so with LRU each queue is the LRU order of its tier's blocks.
 * A policy with a single queue (the default {@code sibling}) serves both tiers as before.
 * Inserts, accesses, holds and removals go to the queue the block is in; {@link #victim} searches
 * the DRAM queue. Not thread-safe: guarded by the master's lock.
 */
final class TierQueues implements EvictionPolicy {
    private final EvictionPolicy dram;
    private final EvictionPolicy ssd;
    /** The blocks in {@link #ssd} (when it is another queue). */
    private final Set<BlockKey> onlyOnSsd = new HashSet<>();

    TierQueues(EvictionPolicy policy) {
        this.dram = policy;
        this.ssd = policy.sibling();
    }

    private EvictionPolicy queue(BlockKey key) {
        return onlyOnSsd.contains(key) ? ssd : dram;
    }

    /** A new block: in the DRAM queue, at its most recent end. */
    @Override
    public void onInsert(BlockKey key) {
        dram.onInsert(key);
    }

    @Override
    public void onAccess(BlockKey key) {
        queue(key).onAccess(key);
    }

    @Override
    public void onRemove(BlockKey key) {
        (onlyOnSsd.remove(key) ? ssd : dram).onRemove(key);
    }

    @Override
    public void onHeld(BlockKey key) {
        queue(key).onHeld(key);
    }

    @Override
    public void onEvictable(BlockKey key) {
        queue(key).onEvictable(key);
    }

    /** The DRAM queue's victim: among blocks with a copy in DRAM (or none yet). */
    @Override
    public BlockKey victim(Predicate<BlockKey> evictable) {
        return dram.victim(evictable);
    }

    /**
     * A victim that {@code evictable} accepts among blocks only on SSD, then (a block with an
     * SSD-only copy on one node and a DRAM copy on another is in the DRAM queue) among the rest.
     */
    BlockKey ssdVictim(Predicate<BlockKey> evictable) {
        BlockKey key = ssd.victim(evictable);
        return key != NONE || ssd == dram ? key : dram.victim(evictable);
    }

    /** Puts the block in the queue of its tier now: the SSD queue when it has copies and none in DRAM. */
    void place(BlockState b) {
        if (ssd == dram) {
            return;
        }
        boolean ssdOnly = !b.copies.isEmpty();
        for (CopyState c : b.copies) {
            ssdOnly &= c.dram() == CopyState.Dram.NONE;
        }
        if (ssdOnly && onlyOnSsd.add(b.key)) {
            dram.moveTo(b.key, ssd);
        } else if (!ssdOnly && onlyOnSsd.remove(b.key)) {
            ssd.moveTo(b.key, dram);
        }
    }
}
