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
     * A second, empty queue of the same kind whose recency order interleaves with this one's,
     * so that a block {@link #moveTo moved} between them keeps its place: the master keeps one
     * queue per tier this way, so that a search for a victim of one tier does not walk past the
     * blocks of the other. The default returns this policy itself (one queue for both tiers).
     */
    default EvictionPolicy sibling() {
        return this;
    }

    /**
     * Moves a block from this queue to {@code to} (this policy or one of its {@link #sibling
     * siblings}), keeping its recency and whether it is {@link #onHeld held}. Does nothing for a
     * block not here. The default supports only {@code to == this}, where nothing moves.
     *
     * @throws IllegalArgumentException when {@code to} is not a queue this policy can move to
     */
    default void moveTo(BlockKey key, EvictionPolicy to) {
        if (to != this) {
            throw new IllegalArgumentException("this policy keeps a single queue");
        }
    }

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
