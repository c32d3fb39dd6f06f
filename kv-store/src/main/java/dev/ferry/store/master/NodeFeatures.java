package dev.ferry.store.master;

/**
 * What a store node offers beyond its DRAM segment, stated when it registers.
 *
 * @param indexed      the node wants {@link IndexUpdate}s (a local block index, or its scrub's
 *                     list of blocks to check)
 * @param ssdBytes     capacity of the node's SSD tier, bytes (the sum of block lengths it
 *                     holds); 0 when it has none. The master demotes blocks to it and, when
 *                     it is full, evicts the coldest SSD-only blocks in its own policy's order
 *                     first, so the tier's own eviction is only a safety net
 * @param loadEndpoint {@code host:port} of the node's RPC server, where readers ask it to
 *                     load an SSD-resident block into DRAM; empty when it has none
 */
public record NodeFeatures(boolean indexed, long ssdBytes, String loadEndpoint, boolean persisted) {
    /** A plain node: no index, no SSD tier. */
    public static final NodeFeatures NONE = new NodeFeatures(false, 0, "");

    /**
     * @param persisted the node keeps its index across a restart (a data directory): a commit
     *                  of a block it holds completes only once the node has acknowledged it
     *                  ({@link Master#putCommit}). A node that takes the updates for its scrub
     *                  only would lose them with its DRAM anyway: commits do not wait for it.
     */
    public NodeFeatures {
        if (persisted && !indexed) {
            throw new IllegalArgumentException("a persisted index is an index: indexed must be true");
        }
    }

    /** A node whose index, when it has one, is persisted (nodes of builds that did not say). */
    public NodeFeatures(boolean indexed, long ssdBytes, String loadEndpoint) {
        this(indexed, ssdBytes, loadEndpoint, indexed);
    }

    /** Whether the node has an SSD tier: the master may demote blocks to it. */
    public boolean ssd() {
        return ssdBytes > 0;
    }
}
