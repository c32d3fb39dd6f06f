package dev.ferry.transfer.transport.aeron;

import java.lang.foreign.MemorySegment;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One answer on its way from the receiver, which chose it, to the sender, which offers it on
 * its {@link AnswerChannel}: the message head (or a whole error message) and, for a READ, the
 * segment range it carries. Pooled: a fixed number circulate between the two agents, so
 * answering allocates nothing.
 *
 * <p>Owned by one agent at a time (handed over through queues); not thread-safe.
 */
final class PendingAnswer {
    /** Room for an error text, bytes; longer texts are cut. */
    static final int TEXT_BYTES = 1024;

    final MessageHead head = new MessageHead(new byte[0], TEXT_BYTES);
    final UnsafeBuffer payloadView = new UnsafeBuffer(0, 0);
    DirectBuffer message;
    /** The READ data, a range of a registered segment, or null. */
    MemorySegment payload;
    AnswerChannel channel;
    /** {@link System#nanoTime()} when it was queued: it is dropped once older than the stall timeout. */
    long queuedNanos;
    boolean backPressureCounted;

    void clear() {
        message = null;
        payload = null;
        channel = null;
        backPressureCounted = false;
    }
}
