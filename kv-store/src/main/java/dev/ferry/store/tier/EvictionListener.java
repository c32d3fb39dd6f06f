package dev.ferry.store.tier;

import dev.ferry.store.block.BlockKey;

/**
 * Told of every block the tier evicts on its own to make room for a put, once the deletion
 * is written. Not told of {@link SsdTier#remove explicit removals} nor of corrupt blocks
 * dropped on read (their caller learns of those from the call).
 *
 * <p>Called on a tier I/O thread, with no lock held: keep it short; it may call the tier.
 */
@FunctionalInterface
public interface EvictionListener {
    /** Ignores evictions. */
    EvictionListener NONE = (key, bytes) -> { };

    /**
     * @param key   the evicted block key
     * @param bytes its length, bytes
     */
    void onEvicted(BlockKey key, long bytes);
}
