package dev.ferry.store.eviction;

import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongPredicate;

/**
 * Least recently used: the victim is the block whose last insert or access is oldest,
 * skipping blocks that may not be evicted now. Each insert and access stamps the block with a
 * counter; the blocks are kept in stamp order. Blocks {@link #onHeld held} (leased, pinned)
 * leave that order, so that a victim search does not walk past them, and come back into it at
 * their stamp: the order is exactly the LRU order of every insert and access. O(1) per insert
 * and access; O(log h) to hold or release one of h held blocks behind the most recent one; a
 * victim search walks from the oldest block past the unevictable blocks that are not held
 * (soft-pinned, or not in the tier asked for).
 */
public final class LruPolicy implements EvictionPolicy {
    private long clock;
    /** Blocks not held, oldest stamp first (access order: an access moves a block to the end): key to stamp. */
    private final LinkedHashMap<Long, Long> order = new LinkedHashMap<>(1024, 0.75f, true);
    /** Held blocks: key to stamp. */
    private final Map<Long, Long> held = new HashMap<>();
    /** Blocks released from hold whose stamp is older than the end of {@link #order}: stamp to key. */
    private final TreeMap<Long, Long> returned = new TreeMap<>();
    /** The stamps of {@link #returned}: key to stamp. */
    private final Map<Long, Long> returnedStamps = new HashMap<>();

    @Override
    public void onInsert(long key) {
        order.put(key, ++clock);
    }

    @Override
    public void onAccess(long key) {
        if (order.containsKey(key)) {
            order.put(key, ++clock); // an access: to the end
        } else if (held.containsKey(key)) {
            held.put(key, ++clock);
        } else {
            Long stamp = returnedStamps.remove(key);
            if (stamp != null) {
                returned.remove(stamp);
                order.put(key, ++clock);
            }
        }
    }

    @Override
    public void onRemove(long key) {
        if (order.remove(key) == null && held.remove(key) == null) {
            Long stamp = returnedStamps.remove(key);
            if (stamp != null) {
                returned.remove(stamp);
            }
        }
    }

    @Override
    public void onHeld(long key) {
        Long stamp = order.remove(key);
        if (stamp == null) {
            stamp = returnedStamps.remove(key);
            if (stamp == null) {
                return; // unknown or held already
            }
            returned.remove(stamp);
        }
        held.put(key, stamp);
    }

    @Override
    public void onEvictable(long key) {
        Long stamp = held.remove(key);
        if (stamp == null) {
            return;
        }
        Map.Entry<Long, Long> last = order.lastEntry();
        if (last == null || last.getValue() < stamp) {
            order.put(key, stamp); // newer than every block in the order: its place is the end
        } else {
            returned.put(stamp, key);
            returnedStamps.put(key, stamp);
        }
    }

    @Override
    public long victim(LongPredicate evictable) {
        Iterator<Map.Entry<Long, Long>> a = order.entrySet().iterator();
        Iterator<Map.Entry<Long, Long>> b = returned.entrySet().iterator();
        Map.Entry<Long, Long> nextA = a.hasNext() ? a.next() : null; // key, stamp
        Map.Entry<Long, Long> nextB = b.hasNext() ? b.next() : null; // stamp, key
        while (nextA != null || nextB != null) {
            long key;
            if (nextB == null || nextA != null && nextA.getValue() < nextB.getKey()) {
                key = nextA.getKey();
                nextA = a.hasNext() ? a.next() : null;
            } else {
                key = nextB.getValue();
                nextB = b.hasNext() ? b.next() : null;
            }
            if (evictable.test(key)) {
                return key;
            }
        }
        return NONE;
    }
}
