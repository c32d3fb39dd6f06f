package dev.ferry.transfer;

import dev.ferry.transfer.slice.TransferException;

/** A request that was not done by its deadline; its bytes may be partly moved. Not retryable. */
public final class TransferTimeoutException extends TransferException {
    public TransferTimeoutException(String message) {
        super(message, false);
    }
}
