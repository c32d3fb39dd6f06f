package dev.ferry.transfer;

/** Direction of a transfer, seen from the initiator. */
public enum Opcode {
    /** Copy from the target segment into the local buffer. */
    READ,
    /** Copy from the local buffer into the target segment. */
    WRITE
}
