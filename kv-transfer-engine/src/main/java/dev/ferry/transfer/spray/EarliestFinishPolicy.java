package dev.ferry.transfer.spray;

import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.LinkEstimator;
import java.util.List;

/**
 * Sends each slice to the link where it is predicted to finish first,
 * {@code latency + (inFlightBytes + sliceBytes) / bandwidth}, with the latency and bandwidth
 * from the link's own measurements ({@link LinkEstimator#predictFinishNanos}); a link not
 * measured yet is assumed as fast as the mean of those that are (all equal when none is),
 * with no latency. Small slices thus go where the round trip is shortest, large ones where
 * the bytes drain soonest. Paces:
 * when that link already has {@code windowBytes} in flight, the slice waits for a
 * completion instead of going to a link where it would finish later. A healthy but slower
 * link thus gets a smaller share, in proportion to what it delivers, without being
 * declared failed.
 *
 * <p>One selection in {@link #PROBE_EVERY} goes to an idle link instead, so that the estimate
 * of a link that fell out of favour is measured again.
 *
 * <p>After TENT's slice spraying (kvcache-ai/Mooncake, docs/source/design/tent), with
 * estimates from measurements only, never a configured line rate. Thread-safe, lock-free
 * and allocation-free.
 */
public final class EarliestFinishPolicy implements SprayPolicy {
    /** Default bytes in flight per link before it must wait for a completion (16 MiB). */
    public static final long DEFAULT_WINDOW_BYTES = 16L << 20;

    /** One selection in this many probes an idle link, so that its estimate stays fresh. */
    public static final int PROBE_EVERY = 64;

    private final long windowBytes;
    private final java.util.concurrent.atomic.AtomicLong selections = new java.util.concurrent.atomic.AtomicLong();

    public EarliestFinishPolicy() {
        this(DEFAULT_WINDOW_BYTES);
    }

    /** @param windowBytes bytes in flight per link before it waits; a link with none in flight always takes one slice */
    public EarliestFinishPolicy(long windowBytes) {
        this.windowBytes = windowBytes;
    }

    @Override
    public Link select(List<? extends Link> links, int sliceBytes, Link avoid) {
        double known = 0;
        int measured = 0;
        for (int i = 0, n = links.size(); i < n; i++) {
            double bw = links.get(i).estimator().bytesPerNano();
            if (!Double.isNaN(bw)) {
                known += bw;
                measured++;
            }
        }
        double prior = measured == 0 ? 1.0 : known / measured;
        Link best = null;
        double bestFinish = Double.MAX_VALUE;
        for (int i = 0, n = links.size(); i < n; i++) {
            Link link = links.get(i);
            if (!link.isUp() || link == avoid) {
                continue;
            }
            double finish = link.estimator().predictFinishNanos(link.inFlightBytes(), sliceBytes, prior);
            if (finish < bestFinish) {
                best = link;
                bestFinish = finish;
            }
        }
        if (best != null && selections.incrementAndGet() % PROBE_EVERY == 0) {
            Link idle = idleLink(links, best, avoid);
            if (idle != null) {
                return idle;
            }
        }
        if (best == null && avoid != null && avoid.isUp()) {
            best = avoid; // the only link up is the one the slice failed on
        }
        // The slice waits for the link where it finishes first rather than go to a slower one.
        if (best != null && best.inFlightBytes() > 0 && best.inFlightBytes() + sliceBytes > windowBytes) {
            return null;
        }
        return best;
    }

    /** An up link with nothing in flight other than {@code best} and {@code avoid}, or null. */
    private Link idleLink(List<? extends Link> links, Link best, Link avoid) {
        int n = links.size();
        int start = (int) ((selections.get() / PROBE_EVERY) % n);
        for (int i = 0; i < n; i++) {
            Link link = links.get((start + i) % n);
            if (link != best && link != avoid && link.isUp() && link.inFlightBytes() == 0) {
                return link;
            }
        }
        return null;
    }
}
