package dev.ferry.store.master;

import dev.ferry.store.eviction.EvictionPolicy;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The leases and pins that keep blocks from eviction. Leases are kept by id and by deadline:
 * renewing moves a lease in the deadline order, and {@link #expire} touches only the leases
 * that are past their deadline. A block leased or hard-pinned is held out of the eviction
 * policy's victim searches ({@link EvictionPolicy#onHeld}) until its last lease and its hard
 * pin end; a soft pin, which ends by itself, is left to the search's test. Not thread-safe:
 * guarded by the master's lock.
 */
final class LeaseTable {
    private final EvictionPolicy policy;
    private final Predicate<BlockState> current;
    private final Map<Long, LeaseState> byId = new HashMap<>();
    private final ExpiryQueue<LeaseState> byDeadline = new ExpiryQueue<>();
    private long nextId = 1;

    /**
     * @param policy  told when a block is held and evictable again
     * @param current whether a block is still the one of its key (a dropped block's holds are
     *                the policy's no longer)
     */
    LeaseTable(EvictionPolicy policy, Predicate<BlockState> current) {
        this.policy = policy;
        this.current = current;
    }

    /** Counts one more lease on the block. */
    void lease(BlockState b) {
        if (b.leases++ == 0 && !b.hardPin) {
            policy.onHeld(b.key);
        }
    }

    /** Ends the lease's count on each of its blocks; {@code lastEnded} gets each block no longer leased. */
    void unlease(LeaseState lease, Consumer<BlockState> lastEnded) {
        for (BlockState b : lease.blocks) {
            if (b.leases > 0 && --b.leases == 0 && !b.hardPin && current.test(b)) {
                policy.onEvictable(b.key);
            }
            if (b.leases == 0) {
                lastEnded.accept(b);
            }
        }
    }

    /** A hard pin until {@link #unpin}, or a soft pin until {@code until} (ns; extends, never shortens). */
    void pin(BlockState b, boolean hard, long until) {
        if (hard) {
            if (!b.hardPin && b.leases == 0) {
                policy.onHeld(b.key);
            }
            b.hardPin = true;
        } else {
            b.softPinUntil = Math.max(b.softPinUntil, until);
        }
    }

    /** Drops the block's hard and soft pins. */
    void unpin(BlockState b) {
        if (b.hardPin && b.leases == 0) {
            policy.onEvictable(b.key);
        }
        b.hardPin = false;
        b.softPinUntil = Long.MIN_VALUE;
    }

    /** Grants a lease on {@code blocks} until {@code deadline} (ns). */
    LeaseState grant(List<BlockState> blocks, long deadline) {
        LeaseState lease = new LeaseState(nextId++, blocks, deadline);
        lease.ticket = byDeadline.add(deadline, lease);
        byId.put(lease.id, lease);
        return lease;
    }

    /** Moves the lease's deadline to {@code deadline}; false when there is no such lease. */
    boolean renew(long id, long deadline) {
        LeaseState lease = byId.get(id);
        if (lease == null) {
            return false;
        }
        byDeadline.remove(lease.ticket);
        lease.deadline = deadline;
        lease.ticket = byDeadline.add(deadline, lease);
        return true;
    }

    /** Ends a lease; returns it, or null when there is no such lease. */
    LeaseState release(long id) {
        LeaseState lease = byId.remove(id);
        if (lease != null) {
            byDeadline.remove(lease.ticket);
        }
        return lease;
    }

    /** Ends and returns the leases whose deadline is before {@code now}, earliest first. */
    List<LeaseState> expire(long now) {
        List<LeaseState> out = byDeadline.pollDue(deadline -> now > deadline);
        for (LeaseState lease : out) {
            byId.remove(lease.id);
        }
        return out;
    }

    int size() {
        return byId.size();
    }
}
