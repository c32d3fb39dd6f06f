package dev.ferry.store.master;

/**
 * The committed blocks of the whole store per tier, as the master knows them. A block with
 * copies in both tiers counts in both; every copy counts in the bytes.
 *
 * @param dramBlocks blocks with a copy readable from DRAM
 * @param dramBytes  bytes of the copies readable from DRAM
 * @param ssdBlocks  blocks with a copy on an SSD tier
 * @param ssdBytes   bytes of the copies on SSD tiers
 * @param gpuCopies  copies of blocks in the engines' GPU tiers, as the engines report them (a
 *                   block held by two engines counts twice; not replicas: a store read never
 *                   goes to a GPU tier)
 */
public record TierUsage(long dramBlocks, long dramBytes, long ssdBlocks, long ssdBytes, long gpuCopies) {
}
