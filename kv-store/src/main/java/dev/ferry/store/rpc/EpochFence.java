package dev.ferry.store.rpc;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The highest server epoch a client has seen, shared by the {@link RpcClient}s of one logical
 * client (a master client that follows the leader from one master to the next): an answer
 * from a lower epoch comes from a deposed master and is refused
 * ({@link RpcException#NOT_LEADER}); requests carry it, so a deposed master that receives
 * one learns it is behind and refuses too.
 *
 * <p>Thread-safe.
 */
public final class EpochFence {
    private final AtomicLong highest = new AtomicLong();

    /** The highest epoch seen, 0 before any. */
    public long highest() {
        return highest.get();
    }

    /**
     * Accepts an answer's epoch, raising the highest seen.
     *
     * @return whether it is accepted: not lower than the highest seen
     */
    public boolean admit(long epoch) {
        long seen = highest.accumulateAndGet(epoch, Math::max);
        return epoch >= seen;
    }
}
