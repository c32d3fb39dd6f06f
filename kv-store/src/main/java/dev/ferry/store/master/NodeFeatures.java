package dev.ferry.store.master;

/**
 * What a store node offers beyond its DRAM segment, stated when it registers.
 *
 * @param indexed      the node keeps a local block index and wants {@link IndexUpdate}s
 * @param ssdBytes     capacity of the node's SSD tier, bytes (the sum of block lengths it
 *                     holds); 0 when it has none. The master demotes blocks to it and, when
 *                     it is full, evicts the coldest SSD-only blocks in its own policy's order
 *                     first, so the tier's own eviction is only a safety net
 * @param loadEndpoint {@code host:port} of the node's RPC server, where readers ask it to
 *                     load an SSD-resident block into DRAM; empty when it has none
 */
public record NodeFeatures(boolean indexed, long ssdBytes, String loadEndpoint) {
    /** A plain node: no index, no SSD tier. */
    public static final NodeFeatures NONE = new NodeFeatures(false, 0, "");

    /** Whether the node has an SSD tier: the master may demote blocks to it. */
    public boolean ssd() {
        return ssdBytes > 0;
    }
}
