package dev.ferry.store.eviction;

import dev.ferry.store.block.BlockKey;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Least recently used: the victim is the block whose last insert or access is oldest,
 * skipping blocks that may not be evicted now. Each insert and access stamps the block with a
 * counter, and the blocks are kept in stamp order. A block {@link #onHeld held} (leased,
 * pinned) that a victim search meets is parked out of that order, so that later searches do
 * not walk past it again, and comes back into it at its stamp when it is
 * {@link #onEvictable evictable} again: the order is exactly the LRU order of every insert and
 * access. O(1) per insert, access and hold; O(log r) to put a parked block back behind the most
 * recent one (r such blocks); a victim search walks from the oldest block past the
 * unevictable blocks that are not held (soft-pinned, or not in the tier asked for).
 */
public final class LruPolicy implements EvictionPolicy {
    /** The stamp counter, shared with the {@link #sibling siblings}: [0] is the last stamp given. */
    private final long[] clock;
    /** Blocks in the order, oldest stamp first (access order: an access moves a block to the end): key to stamp. */
    private final LinkedHashMap<BlockKey, Long> order = new LinkedHashMap<>(1024, 0.75f, true);
    /** Held blocks (in the order, or parked). */
    private final Set<BlockKey> held = new HashSet<>();
    /** Held blocks a search took out of the order: key to stamp. */
    private final Map<BlockKey, Long> parked = new HashMap<>();
    /** Parked blocks back from hold whose stamp is older than the end of {@link #order}: stamp to key. */
    private final TreeMap<Long, BlockKey> returned = new TreeMap<>();
    /** The stamps of {@link #returned}: key to stamp. */
    private final Map<BlockKey, Long> returnedStamps = new HashMap<>();

    /** An empty LRU order. */
    public LruPolicy() {
        this(new long[1]);
    }

    private LruPolicy(long[] clock) {
        this.clock = clock;
    }

    @Override
    public void onInsert(BlockKey key) {
        order.put(key, ++clock[0]);
    }

    @Override
    public void onAccess(BlockKey key) {
        if (order.containsKey(key)) {
            order.put(key, ++clock[0]); // an access: to the end
        } else if (parked.containsKey(key)) {
            parked.put(key, ++clock[0]);
        } else {
            Long stamp = returnedStamps.remove(key);
            if (stamp != null) {
                returned.remove(stamp);
                order.put(key, ++clock[0]);
            }
        }
    }

    @Override
    public void onRemove(BlockKey key) {
        held.remove(key);
        if (order.remove(key) == null && parked.remove(key) == null) {
            Long stamp = returnedStamps.remove(key);
            if (stamp != null) {
                returned.remove(stamp);
            }
        }
    }

    @Override
    public void onHeld(BlockKey key) {
        held.add(key); // parked when a search meets it; the caller holds only blocks it inserted
    }

    @Override
    public void onEvictable(BlockKey key) {
        if (!held.remove(key)) {
            return;
        }
        Long stamp = parked.remove(key);
        if (stamp == null) {
            return; // never parked: still in its place
        }
        putBack(key, stamp);
    }

    /** Puts a block not held into the order at {@code stamp}. */
    private void putBack(BlockKey key, long stamp) {
        Map.Entry<BlockKey, Long> last = order.lastEntry();
        if (last == null || last.getValue() < stamp) {
            order.put(key, stamp); // newer than every block in the order: its place is the end
        } else {
            returned.put(stamp, key);
            returnedStamps.put(key, stamp);
        }
    }

    /** An empty LRU order sharing this one's stamps: a block {@link #moveTo moved} keeps its place. */
    @Override
    public EvictionPolicy sibling() {
        return new LruPolicy(clock);
    }

    /**
     * O(1), or O(log r) when the block lands behind the most recent one of {@code to}.
     *
     * @throws IllegalArgumentException when {@code to} is neither this policy nor a {@link #sibling} of it
     */
    @Override
    public void moveTo(BlockKey key, EvictionPolicy to) {
        if (!(to instanceof LruPolicy other) || other.clock != clock) {
            throw new IllegalArgumentException("not a sibling of this LRU order");
        }
        if (other == this) {
            return;
        }
        boolean wasHeld = held.remove(key);
        Long stamp = order.remove(key);
        if (stamp == null) {
            stamp = parked.remove(key);
        }
        if (stamp == null) {
            stamp = returnedStamps.remove(key);
            if (stamp != null) {
                returned.remove(stamp);
            }
        }
        if (stamp == null) {
            return;
        }
        if (wasHeld) {
            other.held.add(key);
            other.parked.put(key, stamp); // out of the searches until evictable, as if a search had met it
        } else {
            other.putBack(key, stamp);
        }
    }

    @Override
    public BlockKey victim(Predicate<BlockKey> evictable) {
        Iterator<Map.Entry<BlockKey, Long>> a = order.entrySet().iterator();
        Iterator<Map.Entry<Long, BlockKey>> b = returned.entrySet().iterator();
        Map.Entry<BlockKey, Long> nextA = a.hasNext() ? a.next() : null; // key, stamp
        Map.Entry<Long, BlockKey> nextB = b.hasNext() ? b.next() : null; // stamp, key
        while (nextA != null || nextB != null) {
            BlockKey key;
            long stamp;
            if (nextB == null || nextA != null && nextA.getValue() < nextB.getKey()) {
                key = nextA.getKey();
                stamp = nextA.getValue();
                if (held.contains(key)) {
                    a.remove();
                }
                nextA = a.hasNext() ? a.next() : null;
            } else {
                key = nextB.getValue();
                stamp = nextB.getKey();
                if (held.contains(key)) {
                    b.remove();
                    returnedStamps.remove(key);
                }
                nextB = b.hasNext() ? b.next() : null;
            }
            if (held.contains(key)) {
                parked.put(key, stamp);
            } else if (evictable.test(key)) {
                return key;
            }
        }
        return NONE;
    }
}
