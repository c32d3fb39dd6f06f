package dev.ferry.store.eviction;

import dev.ferry.store.block.BlockKey;
import java.util.function.Predicate;

/**
 * Chooses which block to evict when the store is full. The master tells the policy of
 * every insert, access and removal, and asks for a victim among the blocks that may be
 * evicted now (committed, not leased, not pinned).
 *
 * <p>Not thread-safe: the master calls it under its own lock.
 */
public interface EvictionPolicy {
    /** Returned by {@link #victim} when no block may be evicted. */
    BlockKey NONE = null;

    /** A block was inserted. */
    void onInsert(BlockKey key);

    /** A block was hit (a prefix lookup or a get). */
    void onAccess(BlockKey key);

    /** A block left the store (evicted, removed, its node died). */
    void onRemove(BlockKey key);

    /**
     * The block may not be evicted until {@link #onEvictable} (it is leased or hard-pinned): a
     * policy may leave it out of its victim searches, so that they do not walk past it. Its
     * recency still changes with {@link #onAccess}. The default keeps it in the searches.
     */
    default void onHeld(BlockKey key) {
    }

    /** A block {@link #onHeld held} may be evicted again, in its place by recency. */
    default void onEvictable(BlockKey key) {
    }

    /**
     * The block to evict, among those {@code evictable} accepts, or {@link #NONE} (null). Does not
     * remove it. Blocks {@link #onHeld held} may be left out without asking {@code evictable}.
     */
    BlockKey victim(Predicate<BlockKey> evictable);

    /**
     * @param name {@code lru} or {@code s3fifo}
     * @throws IllegalArgumentException for an unknown name
     */
    static EvictionPolicy byName(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "lru" -> new LruPolicy();
            case "s3fifo", "s3-fifo" -> new S3FifoPolicy();
            default -> throw new IllegalArgumentException("unknown eviction policy '" + name + "'; known: lru, s3fifo");
        };
    }
}
