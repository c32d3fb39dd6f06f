package dev.ferry.store.master;

import dev.ferry.store.index.IndexedBlock;

/** One replica of a block, on one node: in its DRAM segment, on its SSD tier, or both. */
final class CopyState {
    final String segment;
    /** Offset of the DRAM range, or {@link IndexedBlock#ON_SSD} when the copy has none. */
    long offset;
    /** The node's SSD tier holds the block. */
    boolean onSsd;
    /** The node was asked to write the block to SSD and has not reported it yet. */
    boolean demoting;
    /** The DRAM range was allocated for a promotion the node has not confirmed yet. */
    boolean loading;

    CopyState(String segment, long offset) {
        this.segment = segment;
        this.offset = offset;
    }

    boolean inDram() {
        return offset != IndexedBlock.ON_SSD;
    }
}
