package dev.ferry.transfer.spray;

import dev.ferry.transfer.transport.Link;
import java.util.List;

/**
 * Chooses the link for a slice among the links to one peer. Called on the submitting
 * thread and on I/O threads; implementations must be thread-safe and must not allocate.
 */
public interface SprayPolicy {
    /**
     * @param links       the peer's links (some may be down)
     * @param sliceBytes  size of the slice, bytes
     * @param avoid       a link to avoid if any other is up (the one a retry failed on), or null
     * @return an up link, or null when none is up
     */
    Link select(List<? extends Link> links, int sliceBytes, Link avoid);
}
