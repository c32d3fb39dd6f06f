package dev.ferry.store.tier;

import dev.ferry.store.block.BlockKey;

/** The block key is not in the tier (never stored, removed, evicted, or being replaced). */
public final class UnknownBlockException extends TierException {
    private final BlockKey key;

    public UnknownBlockException(BlockKey key) {
        super("block key " + key + " is not in the SSD tier");
        this.key = key;
    }

    /** The block key asked for. */
    public BlockKey key() {
        return key;
    }
}
