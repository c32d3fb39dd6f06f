package dev.ferry.transfer.transport.serve;

import dev.ferry.transfer.transport.frame.SliceFrame;
import java.lang.foreign.MemorySegment;

/**
 * Writes the answers that {@link SliceServer} chooses, in one transport's framing (a TCP
 * connection's frames, an Aeron reply publication's messages). Called on the thread that
 * serves the request; implementations must not block on the network (queue instead).
 */
public interface Answers {
    /** A WRITE or notification was taken: {@code ackType} is {@link SliceFrame#WRITE_ACK} or {@link SliceFrame#NOTIFY_ACK}. */
    void ack(byte ackType, long sliceId, long offset);

    /**
     * A READ is answered with {@code bytes} (a range of a registered segment, sent from where
     * it lies).
     *
     * @param trailer whether the initiator asked for the CRC32C after the payload rather than
     *                in the header ({@link SliceFrame#CRC_TRAILER}); the implementation computes it either way
     */
    void data(long sliceId, long offset, MemorySegment bytes, boolean trailer);

    /** A request of {@code requestType} is refused with {@code status} and a text for the initiator. */
    void refuse(byte requestType, long sliceId, long offset, SliceFrame.Status status, String why);
}
