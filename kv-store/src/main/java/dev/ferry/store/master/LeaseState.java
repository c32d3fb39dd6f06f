package dev.ferry.store.master;

import java.util.List;

/**
 * A granted lease: the blocks it pins and its deadline (ns). It holds the block records
 * themselves, not their keys: when a leased block is dropped (its node died) and a new block
 * later takes its key, ending the lease must not unpin the new one. Guarded by the master's lock.
 */
final class LeaseState {
    final long id;
    final List<BlockState> blocks;
    long deadline;
    /** Its place in the {@link LeaseTable}'s deadline order. */
    ExpiryQueue.Ticket ticket;

    LeaseState(long id, List<BlockState> blocks, long deadline) {
        this.id = id;
        this.blocks = blocks;
        this.deadline = deadline;
    }
}
