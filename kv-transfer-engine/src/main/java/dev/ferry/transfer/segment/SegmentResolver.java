package dev.ferry.transfer.segment;

import dev.ferry.transfer.TransferException;

/**
 * Finds the descriptor of a segment by name; the engine calls it for segments it does not
 * own. Implementations cache and must be thread-safe.
 */
@FunctionalInterface
public interface SegmentResolver {
    /**
     * @param name segment name
     * @return its descriptor
     * @throws TransferException (not retryable) if no such segment is known
     */
    SegmentDescriptor resolve(String name);
}
