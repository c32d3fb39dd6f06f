package dev.ferry.transfer.transport;

import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.TransferException;

/** Receives the outcome of every slice a link sent. Called on I/O threads: must not block. */
public interface SliceListener {
    /** The slice's bytes are in place (WRITE acknowledged, or READ copied and CRC-checked). */
    void onCompleted(Slice slice, Link link);

    /** The slice failed on this link; {@link TransferException#retryable()} says if another may work. */
    void onFailed(Slice slice, Link link, TransferException cause);
}
