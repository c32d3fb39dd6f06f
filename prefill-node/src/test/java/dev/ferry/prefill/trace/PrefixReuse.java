package dev.ferry.prefill.trace;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Prefix reuse as the trace README's reference replay counts it: requests in order, each
 * hitting the longest prefix of its blocks already seen, then inserting all of its blocks.
 * With unbounded capacity an LRU never evicts, so a set is that LRU.
 */
final class PrefixReuse {
    private PrefixReuse() {
    }

    static double unboundedHitRatio(List<TraceRequest> trace) {
        Set<Long> seen = new HashSet<>();
        long hits = 0;
        long blocks = 0;
        for (TraceRequest r : trace) {
            long[] keys = r.blockKeys();
            int prefix = 0;
            while (prefix < keys.length && seen.contains(keys[prefix])) {
                prefix++;
            }
            hits += prefix;
            blocks += keys.length;
            for (long k : keys) {
                seen.add(k);
            }
        }
        return blocks == 0 ? 0 : (double) hits / blocks;
    }
}
