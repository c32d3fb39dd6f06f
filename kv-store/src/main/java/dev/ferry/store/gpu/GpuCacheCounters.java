package dev.ferry.store.gpu;

/**
 * Counts of a {@link GpuBlockCache} since it opened; a snapshot.
 *
 * @param landed    new blocks that landed in the GPU tier and were copied down
 * @param promoted  blocks read from the store and promoted into the GPU tier
 * @param hits      blocks served from the GPU tier (no transfer)
 * @param misses    reads that the GPU tier could not serve (absent or stale)
 * @param stale     copies dropped because the store's committed block differs or is gone
 * @param evicted   copies evicted to make room (or replaced)
 * @param full      blocks not held because no room could be made
 * @param blocks    blocks held now
 * @param usedBytes bytes of the pool held now (ranges rounded up to the allocator's alignment)
 * @param batched   blocks of hits and promotions copied with a batched copy ({@link CopyBatching})
 */
public record GpuCacheCounters(long landed, long promoted, long hits, long misses, long stale, long evicted, long full,
                               int blocks, long usedBytes, long batched) {
}
