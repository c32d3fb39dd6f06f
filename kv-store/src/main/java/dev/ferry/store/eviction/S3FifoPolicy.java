package dev.ferry.store.eviction;

import dev.ferry.store.block.BlockKey;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.function.Predicate;

/**
 * S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023): a
 * small FIFO queue (10% of the blocks) takes new blocks, a main FIFO queue the rest, and a
 * ghost queue remembers the keys recently evicted from the small one. A block leaving the
 * small queue moves to the main one if it was hit since insertion, else it is evicted and
 * its key goes to the ghost queue; a block reinserted while its key is a ghost goes straight
 * to the main queue; the main queue gives each hit block another round (frequency capped at
 * 3). One-time blocks (a scan, a long unique prompt) thus leave through the small queue
 * without pushing out the reused prefixes in the main one: scan-resistant, where LRU is not.
 *
 * <p>Blocks that may not be evicted now (leased, uncommitted) are passed over and keep
 * their place. O(1) amortised per operation. Not thread-safe: the master calls it under its
 * own lock.
 */
public final class S3FifoPolicy implements EvictionPolicy {
    private static final int MAX_FREQUENCY = 3;

    private final LinkedHashMap<BlockKey, Boolean> small = new LinkedHashMap<>();
    private final LinkedHashMap<BlockKey, Boolean> main = new LinkedHashMap<>();
    private final LinkedHashSet<BlockKey> ghost = new LinkedHashSet<>();
    private final Map<BlockKey, Integer> frequency = new HashMap<>();
    private BlockKey victimFromSmall = NONE;

    @Override
    public void onInsert(BlockKey key) {
        frequency.put(key, 0);
        if (ghost.remove(key)) {
            main.put(key, Boolean.TRUE);
        } else {
            small.put(key, Boolean.TRUE);
        }
    }

    @Override
    public void onAccess(BlockKey key) {
        frequency.computeIfPresent(key, (k, f) -> Math.min(f + 1, MAX_FREQUENCY));
    }

    @Override
    public void onRemove(BlockKey key) {
        frequency.remove(key);
        boolean wasSmall = small.remove(key) != null;
        main.remove(key);
        if (wasSmall && key.equals(victimFromSmall)) {
            ghost.add(key);
            while (ghost.size() > Math.max(1, main.size())) {
                Iterator<BlockKey> oldest = ghost.iterator();
                oldest.next();
                oldest.remove();
            }
        }
        victimFromSmall = NONE;
    }

    @Override
    public BlockKey victim(Predicate<BlockKey> evictable) {
        int total = small.size() + main.size();
        boolean fromSmall = !small.isEmpty() && (small.size() * 10 >= total || main.isEmpty());
        // The preferred queue first; when all its blocks are pinned or hot, the other, then the
        // preferred one again (walking the small queue may have promoted blocks into main).
        for (int attempt = 0; attempt < 3; attempt++, fromSmall = !fromSmall) {
            BlockKey key = fromSmall ? fromSmall(evictable) : fromMain(evictable);
            if (key != NONE) {
                victimFromSmall = fromSmall ? key : NONE;
                return key;
            }
        }
        return NONE;
    }

    /** Walks the small queue once: hit blocks move to main, the first cold evictable one is the victim. */
    private BlockKey fromSmall(Predicate<BlockKey> evictable) {
        int n = small.size();
        for (int i = 0; i < n && !small.isEmpty(); i++) {
            BlockKey key = small.keySet().iterator().next();
            small.remove(key);
            if (frequency.getOrDefault(key, 0) > 0) {
                frequency.put(key, 0);
                main.put(key, Boolean.TRUE);
            } else if (evictable.test(key)) {
                small.putFirst(key, Boolean.TRUE); // stays in place until the master removes it
                return key;
            } else {
                small.put(key, Boolean.TRUE); // pinned for now: to the back of the queue
            }
        }
        return NONE;
    }

    /** Walks the main queue: hit blocks get another round, the first cold evictable one is the victim. */
    private BlockKey fromMain(Predicate<BlockKey> evictable) {
        int n = main.size();
        for (int i = 0; i < 4 * n && !main.isEmpty(); i++) {
            BlockKey key = main.keySet().iterator().next();
            int f = frequency.getOrDefault(key, 0);
            if (f == 0 && evictable.test(key)) {
                return key;
            }
            main.remove(key);
            frequency.put(key, Math.max(0, f - 1));
            main.put(key, Boolean.TRUE);
        }
        return NONE;
    }
}
