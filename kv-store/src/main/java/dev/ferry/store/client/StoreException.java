package dev.ferry.store.client;

/**
 * A put or get that failed: missing keys, no space, a dead node, an expired lease; a put of a
 * key stored with another length ({@link LengthConflictException}).
 */
public class StoreException extends RuntimeException {
    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
