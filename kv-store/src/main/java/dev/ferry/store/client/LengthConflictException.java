package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;

/**
 * A put of a key that is already in the store (or being written) with another length: keys
 * name contents, so the put is refused instead of reported as "already there", and the
 * stored block stays as it is. Nothing of the refused call stays allocated.
 */
public final class LengthConflictException extends StoreException {
    private final BlockKey key;
    private final long storedBytes;
    private final long askedBytes;

    /**
     * @param key         block key
     * @param storedBytes the length of the block in the store, bytes
     * @param askedBytes  the length the put asked for, bytes
     */
    public LengthConflictException(BlockKey key, long storedBytes, long askedBytes) {
        super("block key " + key + " is already in the store (or being written) with " + storedBytes
                + " bytes, not the " + askedBytes + " of this put: remove it first to store other bytes under it");
        this.key = key;
        this.storedBytes = storedBytes;
        this.askedBytes = askedBytes;
    }

    /** The block key. */
    public BlockKey key() {
        return key;
    }

    /** The length of the block in the store, bytes. */
    public long storedBytes() {
        return storedBytes;
    }

    /** The length the put asked for, bytes. */
    public long askedBytes() {
        return askedBytes;
    }
}
