package dev.ferry.store.master;

import java.util.List;

/**
 * A time-bounded pin on blocks being read: none of them is evicted or reused before the
 * lease is released or expires. {@link Master#renew} extends it.
 *
 * @param id        lease id, for renew and release
 * @param ttlMillis how long the lease holds after it was granted or renewed, ms
 * @param replicas  one list per requested key, in request order: the key's replicas on
 *                  different nodes, the preferred one first; empty for a key not in the store
 */
public record Lease(long id, long ttlMillis, List<List<Replica>> replicas) {
    /** Whether every requested key was found. */
    public boolean complete() {
        return replicas.stream().noneMatch(List::isEmpty);
    }
}
