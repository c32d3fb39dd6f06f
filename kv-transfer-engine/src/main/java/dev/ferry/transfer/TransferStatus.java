package dev.ferry.transfer;

/** Where one request of a batch stands. */
public enum TransferStatus {
    /** Slices are queued or in flight. */
    PENDING,
    /** Every byte is in place (and, for slices over the network, CRC-checked). */
    COMPLETED,
    /** A slice failed for good; the cause says why. */
    FAILED,
    /** The caller cancelled it; its bytes may be partly moved. */
    CANCELLED,
    /** Its deadline passed; its bytes may be partly moved. */
    TIMED_OUT
}
