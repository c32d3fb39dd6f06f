package dev.ferry.store.index;

import dev.ferry.store.block.BlockKey;

/**
 * A committed block as a store node holds it: where it lies in the node's DRAM segment (or
 * {@link #ON_SSD} for a block on the node's SSD tier) and the CRC32C its writer committed.
 * A restarted node re-registers these.
 *
 * @param key    block key
 * @param offset offset in the node's segment, bytes, or {@link #ON_SSD}
 * @param length block length, bytes
 * @param crc32c CRC32C of the block's bytes
 */
public record IndexedBlock(BlockKey key, long offset, long length, int crc32c) {
    /** The offset of a block held on the SSD tier. */
    public static final long ON_SSD = -1;

    public boolean onSsd() {
        return offset == ON_SSD;
    }
}
