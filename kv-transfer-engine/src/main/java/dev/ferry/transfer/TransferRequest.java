package dev.ferry.transfer;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One READ or WRITE of {@code length} bytes between {@code local[localOffset ..]} and
 * {@code targetSegment[targetOffset ..]}.
 *
 * @param opcode        direction
 * @param local         local buffer (any memory segment: a slab, a slice of one, a heap array)
 * @param localOffset   offset into {@code local}, bytes
 * @param targetSegment name of the target segment, as registered by its node
 * @param targetOffset  offset into the target segment, bytes
 * @param length        bytes to move, at least 1
 * @throws IllegalArgumentException if the range lies outside {@code local} or the length
 *                                  or an offset is out of range
 */
public record TransferRequest(Opcode opcode, MemorySegment local, long localOffset,
                              String targetSegment, long targetOffset, long length) {
    public TransferRequest {
        Objects.requireNonNull(opcode, "opcode");
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(targetSegment, "targetSegment");
        if (length < 1) {
            throw new IllegalArgumentException("length must be at least 1 byte, was " + length);
        }
        if (localOffset < 0 || targetOffset < 0) {
            throw new IllegalArgumentException("offsets must be >= 0: local " + localOffset
                    + ", target " + targetOffset);
        }
        if (localOffset > local.byteSize() - length) {
            throw new IllegalArgumentException("local range [" + localOffset + ", " + (localOffset + length)
                    + ") crosses the end of the local buffer (" + local.byteSize() + " bytes)");
        }
    }

    /** A READ of {@code length} bytes from {@code target@targetOffset} into {@code local@localOffset}. */
    public static TransferRequest read(MemorySegment local, long localOffset, String target, long targetOffset,
                                       long length) {
        return new TransferRequest(Opcode.READ, local, localOffset, target, targetOffset, length);
    }

    /** A WRITE of {@code length} bytes from {@code local@localOffset} to {@code target@targetOffset}. */
    public static TransferRequest write(MemorySegment local, long localOffset, String target, long targetOffset,
                                        long length) {
        return new TransferRequest(Opcode.WRITE, local, localOffset, target, targetOffset, length);
    }
}
