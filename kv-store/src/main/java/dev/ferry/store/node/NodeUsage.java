package dev.ferry.store.node;

/**
 * What one store node holds now, per tier, as its own records say (the index updates it has
 * applied and its SSD tier): its metrics. The DRAM figures may lag the master's by one index
 * poll.
 *
 * @param slabBytes   the DRAM slab's size, bytes
 * @param dramBlocks  committed blocks in the slab
 * @param dramBytes   bytes of those blocks (the slab's used bytes; the rest is free)
 * @param ssdCapacity the SSD tier's capacity, bytes (0 without one)
 * @param ssdBlocks   blocks on the SSD tier
 * @param ssdBytes    bytes of those blocks
 */
public record NodeUsage(long slabBytes, long dramBlocks, long dramBytes, long ssdCapacity, long ssdBlocks,
                        long ssdBytes) {
    /** Bytes of the slab that hold no committed block. */
    public long slabFreeBytes() {
        return Math.max(0, slabBytes - dramBytes);
    }
}
