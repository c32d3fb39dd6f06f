package dev.ferry.store.tier;

/** A tier operation failed: an I/O error of the storage engine, or no room could be made. */
public class TierException extends RuntimeException {
    public TierException(String message) {
        super(message);
    }

    public TierException(String message, Throwable cause) {
        super(message, cause);
    }
}
