package dev.ferry.store.tier;

import dev.ferry.store.block.BlockKey;

/**
 * A stored block failed its check on read (its bytes do not match the CRC32C recorded at put,
 * or its bytes are missing or of another length). The tier has dropped the block and counted
 * it ({@link SsdTier#corruptBlocks()}); the bytes read were not returned as good.
 */
public final class CorruptBlockException extends TierException {
    private final BlockKey key;

    public CorruptBlockException(BlockKey key, String detail) {
        super("block key " + key + " is corrupt in the SSD tier (" + detail + "); dropped");
        this.key = key;
    }

    /** The block key that was dropped. */
    public BlockKey key() {
        return key;
    }
}
