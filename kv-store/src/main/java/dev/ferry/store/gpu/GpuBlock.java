package dev.ferry.store.gpu;

/**
 * What the GPU tier says of one block, at one moment.
 *
 * @param offset     the block's range in the device pool, bytes from its start
 * @param length     the block's length, bytes
 * @param readable   whether its bytes are on the device (false while the put's copy is in flight)
 * @param copiedDown whether a copy down to DRAM has completed (an eviction then loses nothing)
 * @param busy       whether a copy in flight uses its range (it cannot be evicted now)
 */
public record GpuBlock(long offset, long length, boolean readable, boolean copiedDown, boolean busy) {
}
