package dev.ferry.store.gpu;

/**
 * Counts of the GPU tier since it opened; a snapshot.
 *
 * @param puts         blocks queued into the tier (one by one or batched)
 * @param reads        block reads queued out of the tier (hits, one by one or batched)
 * @param copiesDown   copies down to DRAM completed
 * @param evictions    blocks evicted
 * @param failedCopies asynchronous copies that the device reported failed
 * @param batches      batched copies queued ({@link GpuTier#putBatched}, {@link GpuTier#readBatched})
 */
public record GpuTierCounters(long puts, long reads, long copiesDown, long evictions, long failedCopies,
                              long batches) {
}
