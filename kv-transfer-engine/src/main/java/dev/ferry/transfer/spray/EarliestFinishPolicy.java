package dev.ferry.transfer.spray;

import dev.ferry.transfer.transport.Link;
import java.util.List;

/**
 * Sends each slice to the link where it is predicted to finish first:
 * {@code (inFlightBytes + sliceBytes) / bandwidth}, with the bandwidth from the link's own
 * measurements ({@link dev.ferry.transfer.transport.LinkEstimator}). A link not yet
 * measured is tried first so that every link gets a sample. A healthy but slower link thus
 * gets a smaller share without being declared failed.
 *
 * <p>After TENT's slice spraying (kvcache-ai/Mooncake, docs/source/design/tent), but with
 * estimates from measurements only. Stateless and thread-safe.
 */
public final class EarliestFinishPolicy implements SprayPolicy {
    @Override
    public Link select(List<? extends Link> links, int sliceBytes, Link avoid) {
        Link best = null;
        double bestFinish = Double.MAX_VALUE;
        for (int i = 0, n = links.size(); i < n; i++) {
            Link link = links.get(i);
            if (!link.isUp() || link == avoid) {
                continue;
            }
            double bandwidth = link.estimator().bytesPerNano();
            double finish = Double.isNaN(bandwidth)
                    ? link.inFlightBytes() == 0 ? -1 : Double.MAX_VALUE / 2
                    : (link.inFlightBytes() + sliceBytes) / bandwidth;
            if (best == null || finish < bestFinish) {
                best = link;
                bestFinish = finish;
            }
        }
        return best == null && avoid != null && avoid.isUp() ? avoid : best;
    }
}
