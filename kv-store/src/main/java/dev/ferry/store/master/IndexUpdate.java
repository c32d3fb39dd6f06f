package dev.ferry.store.master;

import dev.ferry.store.index.IndexedBlock;

/**
 * An instruction about one block of a node, which the master sends the node in its
 * heartbeat answers so that the node's local index and SSD tier follow the master.
 *
 * @param seq   sequence number, from 1 after each registration, per node
 * @param kind  what happened or is asked
 * @param block the block: its key, DRAM offset in the node's segment, length and CRC32C
 */
public record IndexUpdate(long seq, Kind kind, IndexedBlock block) {
    /** The kinds of update. */
    public enum Kind {
        /** The block was committed in the node's DRAM segment: index it. */
        ADD,
        /** The block left the node (evicted, removed): forget it in DRAM and on SSD. */
        REMOVE,
        /** Write the block from DRAM to the SSD tier, then report it in {@link NodeReport#demoted()}. */
        DEMOTE,
        /** The block's DRAM range was freed; it stays on the SSD tier: forget it in the DRAM index. */
        DRAM_FREED
    }
}
