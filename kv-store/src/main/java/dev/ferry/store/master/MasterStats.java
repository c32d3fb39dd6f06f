package dev.ferry.store.master;

/**
 * Counts of the master's state.
 *
 * @param nodes           live store nodes
 * @param blocks          committed blocks
 * @param pendingBlocks   allocated blocks not committed yet
 * @param capacityBytes   bytes of all registered segments
 * @param usedBytes       bytes allocated (every replica counts)
 * @param evictions       blocks evicted since start
 * @param lostBlocks      blocks dropped because the nodes of all their replicas died
 * @param leases          leases held
 * @param underReplicated committed blocks with fewer replicas than their put asked for
 * @param pinnedBlocks    blocks under a hard pin or an unexpired soft pin
 * @param indexBacklog    index updates sent to nodes but not yet acknowledged
 * @param ssdBlocks       blocks with a copy on an SSD tier
 * @param dramHits        prefix-lookup hits on blocks readable from DRAM, since start
 * @param ssdHits         prefix-lookup hits on blocks only on SSD, since start
 * @param demotions       blocks written from DRAM to SSD, since start
 * @param promotions      blocks given a DRAM range to be loaded into from SSD, since start
 * @param demotionWaits   puts answered BUSY because DRAM was full while blocks were being
 *                        demoted to SSD (the write stall), since start
 * @param corruptCopies   copies dropped because a reader or the node's scrub found their
 *                        bytes not matching their CRC32C, since start
 */
public record MasterStats(int nodes, long blocks, long pendingBlocks, long capacityBytes, long usedBytes,
                          long evictions, long lostBlocks, int leases, long underReplicated, long pinnedBlocks,
                          long indexBacklog, long ssdBlocks, long dramHits, long ssdHits, long demotions,
                          long promotions, long demotionWaits, long corruptCopies) {
}
