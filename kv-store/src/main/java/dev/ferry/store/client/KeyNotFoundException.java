package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;

/** A block an operation needs is not in the store (never put, evicted or removed). */
public final class KeyNotFoundException extends RuntimeException {
    private final BlockKey key;

    public KeyNotFoundException(BlockKey key) {
        super("block key " + key + " is not in the store");
        this.key = key;
    }

    /** The missing block key. */
    public BlockKey key() {
        return key;
    }
}
