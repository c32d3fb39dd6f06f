package dev.ferry.transfer.segment;

/**
 * Finds the descriptor of a segment by name; the engine calls it for segments it does not
 * own. Implementations cache and must be thread-safe.
 */
@FunctionalInterface
public interface SegmentResolver {
    /**
     * @param name segment name
     * @return its descriptor
     * @throws dev.ferry.transfer.slice.TransferException (not retryable) if no such segment is known
     */
    SegmentDescriptor resolve(String name);

    /**
     * Forgets a cached descriptor: the engine calls this when the segment's node could not
     * be reached or no longer knows the segment (it may have restarted elsewhere), so that
     * the next request resolves it afresh. The default does nothing.
     */
    default void invalidate(String name) {
    }
}
