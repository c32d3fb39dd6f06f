package dev.ferry.store.client;

/**
 * @param blocks        blocks read
 * @param bytes         bytes moved by the transfer engine (blocks served by an {@link dev.ferry.store.gpu.EngineTier} move none)
 * @param transferNanos time spent in READ transfers, ns
 * @param gpuBlocks     blocks served by the engine's own GPU tier ({@link dev.ferry.store.gpu.EngineTier}), no transfer
 * @param ssdBlocks     blocks read from a store node's SSD tier (loaded into its DRAM first)
 * @param gpuNanos      time spent copying blocks out of the GPU tier, ns
 * @param promoteNanos  time spent promoting the blocks read from the store into the GPU tier
 *                      ({@link dev.ferry.store.gpu.EngineTier#promoteAll}), ns
 * @param elsewhereGpuBlocks of the blocks read from the store, those another engine held in its
 *                      GPU tier as the master knew it after the get (a locality hint:
 *                      {@link dev.ferry.store.gpu.EngineTier#heldInOtherGpuTiers}), not timed
 */
public record GetResult(int blocks, long bytes, long transferNanos, int gpuBlocks, int ssdBlocks, long gpuNanos,
                        long promoteNanos, int elsewhereGpuBlocks) {
    /** A get that knows nothing of tiers: every block came from DRAM. */
    public GetResult(int blocks, long bytes, long transferNanos) {
        this(blocks, bytes, transferNanos, 0, 0, 0, 0, 0);
    }

    /** Blocks read from a store node's DRAM. */
    public int dramBlocks() {
        return blocks - gpuBlocks - ssdBlocks;
    }
}
