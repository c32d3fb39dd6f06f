package dev.ferry.store.tier;

/** The block key is not in the tier (never stored, removed, evicted, or being replaced). */
public final class UnknownBlockException extends TierException {
    private final long key;

    public UnknownBlockException(long key) {
        super("block key " + key + " is not in the SSD tier");
        this.key = key;
    }

    /** The block key asked for. */
    public long key() {
        return key;
    }
}
