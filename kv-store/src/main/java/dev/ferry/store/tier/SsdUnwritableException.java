package dev.ferry.store.tier;

/**
 * A write to the SSD tier was refused because the tier is {@link SsdHealth#FULL} or
 * {@link SsdHealth#FAILING}: nothing was written. The message names the state and the OS
 * error that caused it (for example {@code "SSD full: ... No space left on device"}).
 */
public final class SsdUnwritableException extends TierException {
    private final SsdHealth health;

    public SsdUnwritableException(SsdHealth health, String message) {
        super(message);
        this.health = health;
    }

    /** The state that refused the write: {@link SsdHealth#FULL} or {@link SsdHealth#FAILING}. */
    public SsdHealth health() {
        return health;
    }
}
