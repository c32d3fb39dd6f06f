package dev.ferry.transfer.transport.tcp;

import io.netty.channel.Channel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.internal.PlatformDependent;
import java.util.Queue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The frames that threads send on one connection, written on its event loop in the order
 * they came and flushed once per turn of the loop: a batch of requests submitted together
 * leaves in one gathering write (one system call, one wake-up of the receiver) instead of
 * one write, flush and event-loop task per frame. Each frame is written whole, so frames of
 * different threads never interleave.
 *
 * <p>Thread-safe: {@link #send} from any thread.
 */
final class Outbox implements Runnable {
    private final Channel channel;
    private final Queue<Object> frames = PlatformDependent.newMpscQueue();
    /** Whether a turn that writes the queued frames is scheduled on the event loop and has not begun. */
    private final AtomicBoolean scheduled = new AtomicBoolean();
    /** Checksums of {@link WholeFrame}s, on the event loop. */
    private final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();

    Outbox(Channel channel) {
        this.channel = channel;
    }

    /** The connection. */
    Channel channel() {
        return channel;
    }

    /**
     * Queues {@code frame} (a {@link io.netty.buffer.ByteBuf}, a {@link WholeFrame} or a {@link ChecksummedPayload})
     * and makes sure that a turn of the event loop writes and flushes it. A frame that cannot
     * be written (the connection or its event loop is closed) is released.
     */
    void send(Object frame) {
        frames.offer(frame);
        // Cleared by the turn before it drains: a frame queued after the drain ended always schedules another.
        if (scheduled.compareAndSet(false, true)) {
            try {
                channel.eventLoop().execute(this);
            } catch (RejectedExecutionException shutDown) {
                discard();
            }
        }
    }

    /** The turn: writes every queued frame, then flushes once. */
    @Override
    public void run() {
        scheduled.set(false);
        boolean wrote = false;
        for (Object frame = frames.poll(); frame != null; frame = frames.poll()) {
            channel.write(frame instanceof WholeFrame whole ? whole.checksummed(crc) : frame, channel.voidPromise());
            wrote = true;
        }
        if (wrote) {
            channel.flush();
        }
    }

    /** Releases the queued frames: their event loop is gone. */
    private void discard() {
        for (Object frame = frames.poll(); frame != null; frame = frames.poll()) {
            if (frame instanceof ChecksummedPayload payload) {
                payload.close();
            } else if (frame instanceof WholeFrame whole) {
                whole.release();
            } else {
                ReferenceCountUtil.release(frame);
            }
        }
    }
}
