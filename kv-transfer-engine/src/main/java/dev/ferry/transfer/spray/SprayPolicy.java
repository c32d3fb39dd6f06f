package dev.ferry.transfer.spray;

import dev.ferry.transfer.transport.Link;
import java.util.List;

/**
 * Chooses the link for a slice among the links to one peer, and paces: returning null
 * while links are up makes the slice wait for a completion ({@link SliceDispatcher}).
 * Called by one thread at a time per peer, possibly an I/O thread: implementations must be
 * thread-safe, must not block and should not allocate.
 */
public interface SprayPolicy {
    /**
     * @param links      the peer's links (some may be down)
     * @param sliceBytes size of the slice, bytes
     * @param avoid      a link to avoid if any other is up (the one the slice failed on), or null
     * @return a link that is up, or null to wait (none has room, or none is up)
     */
    Link select(List<? extends Link> links, int sliceBytes, Link avoid);
}
