package dev.ferry.transfer.slice;

/** Direction of a transfer, seen from the initiator. */
public enum Opcode {
    /** Copy from the target segment into the local buffer. */
    READ,
    /** Copy from the local buffer into the target segment. */
    WRITE,
    /**
     * Deliver a small message (at most {@code TransferEngine.MAX_NOTIFICATION_BYTES}) to the
     * target node's notification listener, after the slices sent before it on the same link
     * (used through {@code TransferEngine.notify}).
     */
    NOTIFY
}
