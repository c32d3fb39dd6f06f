package dev.ferry.store.gpu;

/**
 * Counts of the GPU tier since it opened; a snapshot.
 *
 * @param puts         blocks queued into the tier
 * @param reads        reads queued out of the tier (hits)
 * @param copiesDown   copies down to DRAM completed
 * @param evictions    blocks evicted
 * @param failedCopies asynchronous copies that the device reported failed
 */
public record GpuTierCounters(long puts, long reads, long copiesDown, long evictions, long failedCopies) {
}
