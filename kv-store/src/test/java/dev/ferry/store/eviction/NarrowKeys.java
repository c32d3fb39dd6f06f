package dev.ferry.store.eviction;

import dev.ferry.store.block.BlockKey;
import java.util.function.LongPredicate;

/**
 * An {@link EvictionPolicy} driven with 64-bit keys ({@link BlockKey#of(long)} each), so that
 * the policy tests read as numbers.
 */
final class NarrowKeys {
    /** What {@link #victim} returns for {@link EvictionPolicy#NONE}. */
    static final long NONE = Long.MIN_VALUE;

    private final EvictionPolicy policy;

    NarrowKeys(EvictionPolicy policy) {
        this.policy = policy;
    }

    void onInsert(long key) {
        policy.onInsert(BlockKey.of(key));
    }

    void onAccess(long key) {
        policy.onAccess(BlockKey.of(key));
    }

    void onRemove(long key) {
        policy.onRemove(BlockKey.of(key));
    }

    void onHeld(long key) {
        policy.onHeld(BlockKey.of(key));
    }

    void onEvictable(long key) {
        policy.onEvictable(BlockKey.of(key));
    }

    long victim(LongPredicate evictable) {
        BlockKey victim = policy.victim(k -> evictable.test(k.narrow()));
        return victim == EvictionPolicy.NONE ? NONE : victim.narrow();
    }
}
