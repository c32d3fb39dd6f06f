package dev.ferry.transfer.spray;

import dev.ferry.transfer.transport.Link;
import java.util.List;

/**
 * Sends each slice to the link where it is predicted to finish first,
 * {@code (inFlightBytes + sliceBytes) / bandwidth}, with the bandwidth from the link's own
 * measurements ({@link dev.ferry.transfer.transport.LinkEstimator}); a link not measured
 * yet is assumed as fast as the mean of those that are (all equal when none is). Paces: a
 * link with {@code windowBytes} or more in flight takes nothing more until a completion,
 * so a slow link holds a short queue while faster links take the rest. A healthy but
 * slower link thus gets a smaller share without being declared failed.
 *
 * <p>After TENT's slice spraying (kvcache-ai/Mooncake, docs/source/design/tent), with
 * estimates from measurements only, never a configured line rate. Stateless and thread-safe.
 */
public final class EarliestFinishPolicy implements SprayPolicy {
    /** Default bytes in flight per link before it must wait for a completion (16 MiB). */
    public static final long DEFAULT_WINDOW_BYTES = 16L << 20;

    private final long windowBytes;

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
        boolean otherUp = false;
        for (int i = 0, n = links.size(); i < n; i++) {
            Link link = links.get(i);
            if (!link.isUp() || link == avoid) {
                continue;
            }
            otherUp = true;
            long inFlight = link.inFlightBytes();
            if (inFlight > 0 && inFlight + sliceBytes > windowBytes) {
                continue;
            }
            double bw = link.estimator().bytesPerNano();
            double finish = (inFlight + sliceBytes) / (Double.isNaN(bw) ? prior : bw);
            if (finish < bestFinish) {
                best = link;
                bestFinish = finish;
            }
        }
        if (best == null && !otherUp && avoid != null && avoid.isUp()
                && (avoid.inFlightBytes() == 0 || avoid.inFlightBytes() + sliceBytes <= windowBytes)) {
            return avoid;
        }
        return best;
    }
}
