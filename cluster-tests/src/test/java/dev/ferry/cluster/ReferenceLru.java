package dev.ferry.cluster;

import dev.ferry.prefill.trace.TraceRequest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reference replay of ../shared/traces/README.md, written independently of Ferry's
 * master: requests one at a time in file order; a request hits the longest prefix of its
 * blocks already cached, then inserts or touches all of its blocks; LRU by block with a
 * capacity in blocks.
 */
final class ReferenceLru {
    private ReferenceLru() {
    }

    /** Hit blocks over all blocks. */
    static double hitRatio(List<TraceRequest> trace, long capacity) {
        Map<Long, Boolean> cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, Boolean> eldest) {
                return size() > capacity;
            }
        };
        long hits = 0;
        long blocks = 0;
        for (TraceRequest r : trace) {
            long[] keys = r.blockKeys();
            int prefix = 0;
            while (prefix < keys.length && cache.containsKey(keys[prefix])) {
                prefix++;
            }
            hits += prefix;
            blocks += keys.length;
            for (long key : keys) {
                cache.put(key, Boolean.TRUE);
            }
        }
        return (double) hits / blocks;
    }
}
