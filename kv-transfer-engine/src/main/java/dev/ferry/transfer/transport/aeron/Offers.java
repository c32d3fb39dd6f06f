package dev.ferry.transfer.transport.aeron;

import io.aeron.Publication;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.agrona.DirectBuffer;

/**
 * Offers Aeron messages, waiting out back pressure for at most a timeout. A back-pressured
 * offer spins briefly, then yields, then parks (1 to 50 us): on a machine with few cores, a
 * spinning sender would take the core that the media driver needs to drain the very
 * publication it waits on (measured: the pollers' spinning in offer was 37% of an engine's
 * profile; backing off took the engine from 21-23 to 28-34 ops/s, docs/benchmarks-log.md).
 *
 * <p>Thread-safe (no state but the timeout).
 */
final class Offers {
    /** Back-pressured offers spin this many times before they yield. */
    private static final int BACKOFF_SPINS = 20;
    /** ... and yield this many times before they park. */
    private static final int BACKOFF_YIELDS = 10;

    private final long offerTimeoutNanos;

    /** @param offerTimeoutNanos longest wait on a back-pressured publication, ns */
    Offers(long offerTimeoutNanos) {
        this.offerTimeoutNanos = offerTimeoutNanos;
    }

    /**
     * Offers until accepted; returns why it failed, or null. While the publication is
     * back-pressured it spins briefly, then yields and parks, so that the media drivers and
     * pollers this process shares its cores with can drain it.
     *
     * @param awaitConnect whether a publication not connected yet (the first answer to a new
     *                     peer) is waited for, like back pressure, rather than failed at once
     */
    String offer(Publication publication, DirectBuffer head, DirectBuffer payload, boolean awaitConnect) {
        long deadline = 0;
        for (int idles = 0; ; idles++) {
            long result = payload == null ? publication.offer(head, 0, head.capacity())
                    : publication.offer(head, 0, head.capacity(), payload, 0, payload.capacity(), null);
            if (result > 0) {
                return null;
            }
            if ((result == Publication.NOT_CONNECTED && !awaitConnect) || result == Publication.CLOSED
                    || result == Publication.MAX_POSITION_EXCEEDED) {
                return "publication not connected (" + result + ")";
            }
            long now = System.nanoTime();
            if (deadline == 0) {
                deadline = now + offerTimeoutNanos;
            } else if (now > deadline) {
                return "back-pressured for longer than " + TimeUnit.NANOSECONDS.toMillis(offerTimeoutNanos) + " ms";
            }
            backOff(idles);
        }
    }

    /** Waits a little longer with each attempt: spins, then yields, then parks up to 50 us. */
    private static void backOff(int idles) {
        if (idles < BACKOFF_SPINS) {
            Thread.onSpinWait();
        } else if (idles < BACKOFF_SPINS + BACKOFF_YIELDS) {
            Thread.yield();
        } else {
            LockSupport.parkNanos(Math.min(1_000L << Math.min(idles - BACKOFF_SPINS - BACKOFF_YIELDS, 6), 50_000L));
        }
    }
}
