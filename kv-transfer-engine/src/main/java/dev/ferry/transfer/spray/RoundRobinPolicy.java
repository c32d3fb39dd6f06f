package dev.ferry.transfer.spray;

import dev.ferry.transfer.transport.Link;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The baseline: each slice to the next up link in turn, at once, whatever the links
 * deliver (as the classic Mooncake Transfer Engine stripes slices). Never paces. Thread-safe.
 */
public final class RoundRobinPolicy implements SprayPolicy {
    private final AtomicInteger next = new AtomicInteger();

    @Override
    public Link select(List<? extends Link> links, int sliceBytes, Link avoid) {
        int n = links.size();
        int start = Math.floorMod(next.getAndIncrement(), n);
        for (int i = 0; i < n; i++) {
            Link link = links.get((start + i) % n);
            if (link.isUp() && link != avoid) {
                return link;
            }
        }
        return avoid != null && avoid.isUp() ? avoid : null;
    }
}
