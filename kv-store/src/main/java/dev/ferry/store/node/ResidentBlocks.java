package dev.ferry.store.node;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.index.IndexedBlock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The committed blocks a store node holds in its DRAM slab, as the master's index updates
 * (and the node's own promotions) tell it: what the {@link Scrubber} checks. Kept in memory
 * only; may briefly name a range the master has freed already (updates arrive with the
 * next heartbeat), which the master's guard on a corruption report takes care of.
 *
 * <p>Thread-safe.
 */
final class ResidentBlocks {
    private final ConcurrentHashMap<BlockKey, IndexedBlock> blocks = new ConcurrentHashMap<>();

    /** A committed block now lies at {@code b.offset()}; a block on SSD only is ignored. */
    void add(IndexedBlock b) {
        if (!b.onSsd()) {
            blocks.put(b.key(), b);
        }
    }

    /** The block's DRAM range is gone (removed, freed, demoted). */
    void remove(BlockKey key) {
        blocks.remove(key);
    }

    /** Forgets {@code b} if it is still the entry of its key (not a newer placement). */
    void forget(IndexedBlock b) {
        blocks.remove(b.key(), b);
    }

    /** Whether {@code b} is still the entry of its key. */
    boolean holds(IndexedBlock b) {
        return b.equals(blocks.get(b.key()));
    }

    /** A copy of the entries, in no particular order. */
    List<IndexedBlock> snapshot() {
        return new ArrayList<>(blocks.values());
    }

    /** Forgets everything (a new registration: the master starts over). */
    void clear() {
        blocks.clear();
    }

    int size() {
        return blocks.size();
    }
}
