package dev.ferry.store.master;

/**
 * What a store node offers beyond its DRAM segment, stated when it registers.
 *
 * @param indexed      the node keeps a local block index and wants {@link IndexUpdate}s
 * @param ssd          the node has an SSD tier: the master may demote blocks to it
 * @param loadEndpoint {@code host:port} of the node's RPC server, where readers ask it to
 *                     load an SSD-resident block into DRAM; empty when it has none
 */
public record NodeFeatures(boolean indexed, boolean ssd, String loadEndpoint) {
    /** A plain node: no index, no SSD tier. */
    public static final NodeFeatures NONE = new NodeFeatures(false, false, "");
}
