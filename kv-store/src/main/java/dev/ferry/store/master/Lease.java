package dev.ferry.store.master;

import java.util.List;

/**
 * A time-bounded pin on blocks being read: none of them is evicted or reused before the
 * lease is released or expires.
 *
 * @param id        lease id, for release
 * @param ttlMillis how long the lease holds after it was granted, ms
 * @param replicas  one per requested key, in request order; null for a key not in the store
 */
public record Lease(long id, long ttlMillis, List<Replica> replicas) {
}
