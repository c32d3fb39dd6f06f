package dev.ferry.store.client;

/**
 * The one rule for how long a lease is safe to rely on without asking the master: half its
 * TTL, counted from a time the holder took <em>before</em> asking for (or renewing) the lease,
 * so never later than the master's grant. Within that time the lease cannot have expired,
 * whatever the clocks' drift; after it a long read renews the lease, and a release checks with
 * the master whether it still held. Every holder of leases in the clients (the store clients'
 * reads and releases, the lease cache's lifetimes) uses this rule.
 *
 * <p>Stateless; thread-safe.
 */
public final class LeaseRenewal {
    private LeaseRenewal() {
    }

    /**
     * How long after it was asked for a lease of {@code leaseMillis} surely still holds.
     *
     * @param leaseMillis the lease's TTL, ms
     * @return half the TTL, ns
     */
    public static long halfTtlNanos(long leaseMillis) {
        return leaseMillis * 500_000L;
    }

    /**
     * Whether a lease asked for at {@code askedAtNanos} surely still holds at {@code nowNanos}.
     *
     * @param askedAtNanos {@link System#nanoTime()} taken before the lease was asked for or renewed
     * @param nowNanos     {@link System#nanoTime()} now
     * @param leaseMillis  the lease's TTL, ms
     */
    public static boolean stillHolds(long askedAtNanos, long nowNanos, long leaseMillis) {
        return nowNanos - askedAtNanos < halfTtlNanos(leaseMillis);
    }
}
