package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.Replica;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;

/**
 * Leases a reader keeps for a short while after a read of blocks in its own process's
 * segment, so that reads of the same blocks soon after need no call to the master: the
 * lease still pins them (the master neither evicts, removes nor reuses a leased block's
 * range), so their location is still right. This is what makes a hot block's get cheap in
 * the sidecar; Mooncake Store's clients rely on the same kind of lease (a TTL during which
 * the master keeps an object's replicas).
 *
 * <p>Rules that keep a cached location from ever serving reused bytes:
 * <ul>
 *   <li>Only leases whose every block is in the local segment, in DRAM (not being loaded
 *       from SSD), are cached: the local node knows when the master may have forgotten its
 *       segment (it registers again, and {@code registrations} goes up before it does), a
 *       remote node's re-registration would go unseen.</li>
 *   <li>An entry serves reads for {@code lifetime} after the lease was asked for, at most
 *       half the lease's TTL, and only while {@code registrations} has not changed; a reader
 *       checks both again after its copy ({@link #stillValid}) and discards the bytes if
 *       either changed while it copied.</li>
 *   <li>A lease goes back to the master once none of its entries is cached any more and no
 *       reader holds one; a stale entry is dropped when it is next looked up or swept.
 *       Lookups and releases never call the master (they may run on an event loop): the
 *       leases they retire go back at the next {@link #flush}, which sweeps and offers do.</li>
 * </ul>
 * The cost: a block read recently stays unevictable (and a REMOVE from another client is
 * answered "leased") for up to {@code lifetime}, over at most {@code maxBytes} of blocks.
 *
 * <p>Thread-safe (one lock; every critical section is a few map operations). Lookups and
 * releases of hits do not allocate.
 */
public final class LeaseCache {
    /** One cached block: its place in the local segment and the lease that pins it. */
    public static final class Entry {
        final BlockKey key;
        final long offset;
        final long length;
        final int crc32c;
        final CachedLease lease;

        Entry(Replica r, CachedLease lease) {
            this.key = r.key();
            this.offset = r.offset();
            this.length = r.length();
            this.crc32c = r.crc32c();
            this.lease = lease;
        }

        /** The block's length, bytes. */
        public long length() {
            return length;
        }
    }

    /** A lease held by the cache. Counters guarded by the cache's lock. */
    static final class CachedLease {
        final long id;
        final long askedAt;
        final long registrations;
        /** The keys of its entries (some may have been replaced since by another lease's). */
        BlockKey[] keys;
        int entries;
        int readers;
        boolean released;

        CachedLease(long id, long askedAt, long registrations) {
            this.id = id;
            this.askedAt = askedAt;
            this.registrations = registrations;
        }
    }

    private final String segment;
    private final long lifetimeNanos;
    private final long safeNanos;
    private final long maxBytes;
    private final LongSupplier registrations;
    private final LongConsumer releaser;
    private final Map<BlockKey, Entry> entries = new HashMap<>();
    /** Leases no entry or reader needs any more, to return at the next {@link #flush}. */
    private final ArrayDeque<Long> retired = new ArrayDeque<>();
    private long bytes;
    private long hits;
    private long misses;

    /**
     * @param segment        the local segment's name: only leases of blocks there are cached
     * @param lifetimeMillis how long after it was asked for a lease serves reads, ms; at most
     *                       half of {@code ttlMillis}
     * @param ttlMillis      the TTL the leases are taken with, ms
     * @param maxBytes       most bytes of blocks pinned by cached leases at once
     * @param registrations  the local node's registration count ({@code StoreNode#registrations})
     * @param releaser       ends a lease at the master (called by {@link #flush} and the
     *                       methods that flush, outside the lock)
     * @throws IllegalArgumentException when the lifetime is not in {@code [1, ttl / 2]} or maxBytes < 1
     */
    public LeaseCache(String segment, long lifetimeMillis, long ttlMillis, long maxBytes, LongSupplier registrations,
                      LongConsumer releaser) {
        if (lifetimeMillis < 1 || lifetimeMillis > ttlMillis / 2 || maxBytes < 1) {
            throw new IllegalArgumentException("lease cache lifetime must be between 1 ms and half the lease TTL ("
                    + ttlMillis / 2 + " ms), was " + lifetimeMillis + "; its bytes at least 1, were " + maxBytes);
        }
        this.segment = segment;
        this.lifetimeNanos = lifetimeMillis * 1_000_000L;
        this.safeNanos = LeaseRenewal.halfTtlNanos(ttlMillis);
        this.maxBytes = maxBytes;
        this.registrations = registrations;
        this.releaser = releaser;
    }

    /** The local segment's name. */
    public String segment() {
        return segment;
    }

    /**
     * The entry of {@code key}, held for the caller until {@link #release}, or null when the
     * key has no fresh entry. Never calls the master (a lease it retires goes back at the
     * next {@link #flush}).
     *
     * @param now {@link System#nanoTime()}
     */
    public synchronized Entry acquire(BlockKey key, long now) {
        Entry e = entries.get(key);
        if (e != null && !fresh(e.lease, now)) {
            entries.remove(key);
            forget(e);
            return null;
        }
        if (e != null) {
            e.lease.readers++;
        }
        return e;
    }

    /**
     * Whether bytes copied from the entry's range are the block's: its lease was certainly
     * alive, and the local node not registered again, up to now. Call after the copy.
     *
     * @param now {@link System#nanoTime()}, taken after the copy
     */
    public boolean stillValid(Entry e, long now) {
        return e.lease.registrations == registrations.getAsLong() && now - e.lease.askedAt < safeNanos;
    }

    /** Ends a hold from {@link #acquire}. Never calls the master. */
    public synchronized void release(Entry e) {
        CachedLease l = e.lease;
        l.readers--;
        retireIfUnused(l);
    }

    /**
     * Keeps a lease just used for a read, when every block it found is in the local segment
     * in DRAM and the blocks fit the cache; returns the leases no longer needed.
     *
     * @param lease         the lease, as granted
     * @param askedAt       {@link System#nanoTime()} taken before the lease was asked for
     * @param registrations the local node's registration count taken before the lease was asked for
     * @return true when the cache took the lease (the caller must not release it)
     */
    public boolean offer(Lease lease, long askedAt, long registrations) {
        long size = 0;
        int found = 0;
        for (List<Replica> copies : lease.replicas()) {
            if (copies.isEmpty()) {
                continue;
            }
            Replica r = copies.getFirst();
            if (!r.segment().equals(segment) || r.needsLoad()) {
                return false;
            }
            size += r.length();
            found++;
        }
        if (found == 0 || registrations != this.registrations.getAsLong()
                || System.nanoTime() - askedAt >= lifetimeNanos) {
            return false;
        }
        boolean taken = take(lease, askedAt, registrations, size, found);
        flush();
        return taken;
    }

    private synchronized boolean take(Lease lease, long askedAt, long registrations, long size, int found) {
        sweep(System.nanoTime());
        long replaced = 0;
        for (List<Replica> copies : lease.replicas()) {
            Entry old = copies.isEmpty() ? null : entries.get(copies.getFirst().key());
            replaced += old == null ? 0 : old.length;
        }
        if (bytes - replaced + size > maxBytes) {
            return false;
        }
        CachedLease held = new CachedLease(lease.id(), askedAt, registrations);
        held.keys = new BlockKey[found];
        int k = 0;
        for (List<Replica> copies : lease.replicas()) {
            if (copies.isEmpty()) {
                continue;
            }
            Replica r = copies.getFirst();
            held.keys[k++] = r.key();
            Entry old = entries.put(r.key(), new Entry(r, held));
            held.entries++;
            bytes += r.length();
            if (old != null) {
                forget(old);
            }
        }
        return true;
    }

    /**
     * Drops the entries of {@code keys} and every other entry of their leases (a lease pins
     * all its blocks). Their leases go back at the next {@link #flush} once no reader holds
     * them; before a remove, flush first.
     */
    public synchronized void invalidate(BlockKey[] keys) {
        for (BlockKey key : keys) {
            Entry e = entries.get(key);
            if (e == null) {
                continue;
            }
            for (BlockKey k : e.lease.keys) {
                Entry sibling = entries.get(k);
                if (sibling != null && sibling.lease == e.lease) {
                    entries.remove(k);
                    forget(sibling);
                }
            }
        }
    }

    /** Drops stale entries and returns the leases no entry or reader needs any more. */
    public void sweep() {
        synchronized (this) {
            sweep(System.nanoTime());
        }
        flush();
    }

    /**
     * Returns to the master the leases retired since the last flush (on the calling thread,
     * outside the lock: not on an event loop, where a master in this process could block it).
     */
    public void flush() {
        long[] ids;
        synchronized (this) {
            if (retired.isEmpty()) {
                return;
            }
            ids = retired.stream().mapToLong(Long::longValue).toArray();
            retired.clear();
        }
        for (long id : ids) {
            releaser.accept(id);
        }
    }

    /** Drops every entry and returns the leases no reader holds. */
    public void clear() {
        synchronized (this) {
            for (Entry e : entries.values()) {
                e.lease.entries--;
                retireIfUnused(e.lease);
            }
            entries.clear();
            bytes = 0;
        }
        flush();
    }

    /** Blocks cached now. */
    public synchronized int size() {
        return entries.size();
    }

    /** Reads served from the cache, since start. */
    public synchronized long hits() {
        return hits;
    }

    /** Reads that had to ask the master for a lease, since start. */
    public synchronized long misses() {
        return misses;
    }

    /** Counts a read served from the cache. */
    synchronized void hit() {
        hits++;
    }

    /** Counts a read that asked the master for a lease. */
    synchronized void miss() {
        misses++;
    }

    private void sweep(long now) {
        for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (!fresh(e.lease, now)) {
                it.remove();
                forget(e);
            }
        }
    }

    private boolean fresh(CachedLease l, long now) {
        return now - l.askedAt < lifetimeNanos && l.registrations == registrations.getAsLong();
    }

    /** An entry left the map: its bytes no longer count, and its lease may be done. */
    private void forget(Entry e) {
        bytes -= e.length;
        e.lease.entries--;
        retireIfUnused(e.lease);
    }

    private void retireIfUnused(CachedLease l) {
        if (l.entries == 0 && l.readers == 0 && !l.released) {
            l.released = true;
            retired.add(l.id);
        }
    }
}
