package dev.ferry.transfer.slice;

/**
 * Why a transfer request failed. {@link #retryable()} says whether sending the same slice
 * on another link could succeed (a dead connection, a timeout, a CRC mismatch) or not (an
 * unknown segment, a range outside it).
 */
public class TransferException extends RuntimeException {
    private final boolean retryable;

    public TransferException(String message, boolean retryable) {
        super(message);
        this.retryable = retryable;
    }

    public TransferException(String message, boolean retryable, Throwable cause) {
        super(message, cause);
        this.retryable = retryable;
    }

    /** Whether the same slice may succeed on another link or a later attempt. */
    public boolean retryable() {
        return retryable;
    }
}
