package dev.ferry.store.eviction;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.function.LongPredicate;

/**
 * Least recently used: the victim is the block whose last insert or access is oldest,
 * skipping blocks that may not be evicted now. O(1) per update; a victim search walks from
 * the oldest block past the unevictable ones.
 */
public final class LruPolicy implements EvictionPolicy {
    private final LinkedHashMap<Long, Boolean> order = new LinkedHashMap<>(1024, 0.75f, true);

    @Override
    public void onInsert(long key) {
        order.put(key, Boolean.TRUE);
    }

    @Override
    public void onAccess(long key) {
        order.get(key);
    }

    @Override
    public void onRemove(long key) {
        order.remove(key);
    }

    @Override
    public long victim(LongPredicate evictable) {
        Iterator<Long> it = order.keySet().iterator();
        while (it.hasNext()) {
            long key = it.next();
            if (evictable.test(key)) {
                return key;
            }
        }
        return NONE;
    }
}
