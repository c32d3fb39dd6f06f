package dev.ferry.transfer;

import dev.ferry.transfer.slice.Opcode;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
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
 * @param priority      {@link #HIGH}, {@link #NORMAL} or {@link #LOW}: slices of higher
 *                      priority leave before waiting slices of lower priority
 * @param deadlineNanos {@link System#nanoTime()} after which the request fails as timed
 *                      out, or 0 for none
 * @param transport     the transport to take when it reaches the target ({@link Transport#AUTO}:
 *                      the engine's choice)
 * @throws IllegalArgumentException if the range lies outside {@code local} or the length,
 *                                  an offset or the priority is out of range
 */
public record TransferRequest(Opcode opcode, MemorySegment local, long localOffset,
                              String targetSegment, long targetOffset, long length, int priority,
                              long deadlineNanos, Transport transport) {
    /** Slices that go first (e.g. the layers a decode step waits on). */
    public static final int HIGH = 0;
    /** The default. */
    public static final int NORMAL = 1;
    /** Background traffic (prefetch, replication). */
    public static final int LOW = 2;

    public TransferRequest {
        if (priority < HIGH || priority > LOW) {
            throw new IllegalArgumentException("priority must be HIGH (0), NORMAL (1) or LOW (2), was " + priority);
        }
        Objects.requireNonNull(opcode, "opcode");
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(targetSegment, "targetSegment");
        Objects.requireNonNull(transport, "transport");
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
        return new TransferRequest(Opcode.READ, local, localOffset, target, targetOffset, length, NORMAL, 0, Transport.AUTO);
    }

    /** A WRITE of {@code length} bytes from {@code local@localOffset} to {@code target@targetOffset}. */
    public static TransferRequest write(MemorySegment local, long localOffset, String target, long targetOffset,
                                        long length) {
        return new TransferRequest(Opcode.WRITE, local, localOffset, target, targetOffset, length, NORMAL, 0, Transport.AUTO);
    }

    /** This request with another priority. */
    public TransferRequest withPriority(int newPriority) {
        return new TransferRequest(opcode, local, localOffset, targetSegment, targetOffset, length, newPriority,
                deadlineNanos, transport);
    }

    /** This request, failing as timed out unless done within {@code timeout} from now. */
    public TransferRequest withTimeout(Duration timeout) {
        return new TransferRequest(opcode, local, localOffset, targetSegment, targetOffset, length, priority,
                System.nanoTime() + timeout.toNanos(), transport);
    }

    /** This request, taking {@code hint} when it reaches the target. */
    public TransferRequest withTransport(Transport hint) {
        return new TransferRequest(opcode, local, localOffset, targetSegment, targetOffset, length, priority,
                deadlineNanos, hint);
    }
}
