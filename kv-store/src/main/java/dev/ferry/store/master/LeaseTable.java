package dev.ferry.store.master;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The granted leases, by id and by deadline: renewing moves a lease in the deadline order,
 * and {@link #expire} touches only the leases that are past their deadline. Counting the
 * leases on each block is the caller's. Not thread-safe: guarded by the master's lock.
 */
final class LeaseTable {
    private final Map<Long, LeaseState> byId = new HashMap<>();
    private final ExpiryQueue<LeaseState> byDeadline = new ExpiryQueue<>();
    private long nextId = 1;

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
