package dev.ferry.store.client;

/** A block an operation needs is not in the store (never put, evicted or removed). */
public final class KeyNotFoundException extends RuntimeException {
    private final long key;

    public KeyNotFoundException(long key) {
        super("block key " + key + " is not in the store");
        this.key = key;
    }

    /** The missing block key. */
    public long key() {
        return key;
    }
}
