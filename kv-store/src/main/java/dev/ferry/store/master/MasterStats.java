package dev.ferry.store.master;

/**
 * Counts of the master's state.
 *
 * @param nodes          live store nodes
 * @param blocks         committed blocks
 * @param pendingBlocks  allocated blocks not committed yet
 * @param capacityBytes  bytes of all registered segments
 * @param usedBytes      bytes allocated
 * @param evictions      blocks evicted since start
 * @param lostBlocks     blocks dropped because their node died
 * @param leases         leases held
 */
public record MasterStats(int nodes, long blocks, long pendingBlocks, long capacityBytes, long usedBytes,
                          long evictions, long lostBlocks, int leases) {
}
