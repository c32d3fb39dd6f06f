package dev.ferry.store.client;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterApi;
import dev.ferry.store.master.Placement;
import dev.ferry.store.master.Replica;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * The store read and written straight from the caller's memory, with no staging copy: the
 * transfer engine moves each block between the caller's {@link MemorySegment} (a mapping of
 * another process's shared buffer, for the sidecar) and the block's replica. Besides whole
 * blocks it offers the pieces of a two-phase put ({@link #reserve}, {@link #writeRange},
 * {@link #commit}, {@link #abort}) for writers that produce a block in parts (layer by layer),
 * and ranged reads inside a block.
 *
 * <p>Whole-block gets check every block against its committed CRC32C, and a copy that fails
 * is dropped and read from another replica (or is a miss); ranged reads cannot check
 * (the CRC covers the whole block). Errors: {@link KeyNotFoundException} for a missing key a
 * call needs, {@link IllegalArgumentException} for a range outside a block or a destination
 * too small, {@link StoreException} for no space, a failed transfer or an expired lease; a
 * failed put aborts what it allocated, so nothing half-written is visible.
 *
 * <p>With a {@link LocalSegment} (the process's own store node, as in the sidecar) and a
 * lease cache, a read of blocks that all live in that segment keeps its lease for a while
 * ({@link LeaseCache}) instead of releasing it, and {@link #readCached} then serves reads of
 * the same blocks with a copy from the segment's memory and no call to the master: no
 * blocking, no allocation of its own, so it may run on an event loop.
 *
 * <p>Thread-safe; the caller must not let concurrent calls write the same memory.
 */
public final class DirectStoreClient implements AutoCloseable {
    /** Per-key result of {@link #put}: the block was written and committed. */
    public static final byte STORED = 0;
    /** Per-key result of {@link #put} and {@link #reserve}: the block was already there (nothing written). */
    public static final byte EXISTED = 1;

    private final MasterApi master;
    private final TransferEngine engine;
    private final long leaseMillis;
    private final AtomicInteger leasesHeld = new AtomicInteger();
    private final java.util.Map<Long, Long> askedAtByLease = new java.util.concurrent.ConcurrentHashMap<>();
    private final ReplicaLoader loader = new ReplicaLoader();
    private final String preferredSegment;
    private final LocalSegment local;
    private final LeaseCache cache;
    private final java.util.concurrent.atomic.LongAdder corruptCopies = new java.util.concurrent.atomic.LongAdder();

    /**
     * The store node of this process: its segment's name and memory, and its registration
     * count ({@link dev.ferry.store.node.StoreNode#registrations()}).
     */
    public record LocalSegment(String name, MemorySegment memory, LongSupplier registrations) {
    }

    /** @param leaseMillis lease TTL taken by reads, ms */
    public DirectStoreClient(MasterApi master, TransferEngine engine, long leaseMillis) {
        this(master, engine, leaseMillis, null, 0, 0);
    }

    /**
     * @param master           the master: over RPC, or in this process when it is embedded
     * @param leaseMillis      lease TTL taken by reads, ms
     * @param local            this process's store node: new blocks go to its segment when it
     *                         has room, and its blocks' leases may be cached; null for none
     * @param leaseCacheMillis how long a lease of local blocks serves further reads after it
     *                         was asked for, ms (at most half of {@code leaseMillis}); 0 for no cache
     * @param leaseCacheBytes  most bytes of blocks the cached leases pin at once
     * @throws IllegalArgumentException when the cache settings are out of range
     */
    public DirectStoreClient(MasterApi master, TransferEngine engine, long leaseMillis, LocalSegment local,
                             long leaseCacheMillis, long leaseCacheBytes) {
        this.master = master;
        this.engine = engine;
        this.leaseMillis = leaseMillis;
        this.local = local;
        this.preferredSegment = local == null ? null : local.name();
        this.cache = local == null || leaseCacheMillis <= 0 ? null : new LeaseCache(local.name(), leaseCacheMillis,
                leaseMillis, leaseCacheBytes, local.registrations(), master::releaseLater);
    }

    /** The lease cache, or null when there is none. */
    public LeaseCache leaseCache() {
        return cache;
    }

    /** Returns the leases the cache no longer needs (stale or unused); call now and then. */
    public void sweepLeases() {
        if (cache != null) {
            cache.sweep();
        }
    }

    /** Leases this client holds now (reads in progress). */
    public int leasesHeld() {
        return leasesHeld.get();
    }

    /** How many leading keys are committed blocks; touches them. */
    public int lookupPrefix(long[] keys) {
        return call(() -> master.lookupPrefix(keys));
    }

    /** Whether each key is a committed block, without touching it. */
    public boolean[] exists(long[] keys) {
        return call(() -> master.exists(keys));
    }

    /** @see dev.ferry.store.master.Master#remove */
    public byte[] remove(long[] keys) {
        if (cache != null) {
            cache.invalidate(keys);
            cache.flush(); // the releases reach the master before the remove (in order on one connection)
        }
        return call(() -> master.remove(keys));
    }

    /**
     * Writes and commits the blocks not in the store yet; {@code blocks[i]} holds the whole
     * block of {@code keys[i]} (its size is the block's size, bytes).
     *
     * @return per key {@link #STORED} or {@link #EXISTED}
     * @throws StoreException when there is no room or a transfer fails (this call's
     *                        uncommitted blocks are aborted)
     */
    public byte[] put(long[] keys, MemorySegment[] blocks) {
        byte[] out = new byte[keys.length];
        // The master allocates one size per call: group the keys by block size (usually one group).
        Map<Long, List<Integer>> bySize = new LinkedHashMap<>();
        for (int i = 0; i < keys.length; i++) {
            bySize.computeIfAbsent(blocks[i].byteSize(), s -> new ArrayList<>()).add(i);
        }
        for (Map.Entry<Long, List<Integer>> group : bySize.entrySet()) {
            List<Integer> idx = group.getValue();
            long[] groupKeys = idx.stream().mapToLong(i -> keys[i]).toArray();
            List<Placement> placements = reserve(groupKeys, group.getKey());
            List<TransferRequest> batch = new ArrayList<>(idx.size());
            List<Long> written = new ArrayList<>(idx.size());
            List<Integer> crcs = new ArrayList<>(idx.size());
            for (int j = 0; j < idx.size(); j++) {
                Placement p = placements.get(j);
                out[idx.get(j)] = p.exists() ? EXISTED : STORED;
                if (!p.exists()) {
                    MemorySegment block = blocks[idx.get(j)];
                    crcs.add(BlockContent.crc32c(block));
                    written.add(p.key());
                    batch.add(TransferRequest.write(block, 0, p.segment(), p.offset(), block.byteSize()));
                }
            }
            long[] writtenKeys = written.stream().mapToLong(Long::longValue).toArray();
            try {
                run(batch);
                commit(writtenKeys, crcs.stream().mapToInt(Integer::intValue).toArray());
            } catch (RuntimeException e) {
                abort(writtenKeys);
                throw e instanceof StoreException se ? se : new StoreException("put failed: " + e.getMessage(), e);
            } catch (Error e) { // OutOfMemoryError and the like: nothing uncommitted may stay allocated
                abort(writtenKeys);
                throw e;
            }
        }
        return out;
    }

    /** Chooses where each leased block is read to. */
    @FunctionalInterface
    public interface Destinations {
        /**
         * @param replicas one per requested key, in order; null for a key not in the store
         * @return per key the memory to read the block into (at least its length), null to skip
         * @throws RuntimeException to refuse the read (the lease is released)
         */
        MemorySegment[] choose(List<Replica> replicas);
    }

    /**
     * Reads whole blocks into the memory {@code destinations} chooses and checks each
     * against its CRC32C; keys not in the store are skipped. A copy whose bytes differ from
     * its CRC32C is never handed over: it is reported to the master (which drops it) and
     * counted ({@link #corruptCopies()}), and the block is read from its next copy; when no
     * copy is intact the key is a miss (its destination then holds nothing to rely on).
     *
     * @return per key the block's length in bytes, or -1 when it is not in the store
     * @throws IllegalArgumentException when a destination is smaller than its block
     * @throws StoreException when a transfer fails or the lease expired
     */
    public long[] get(long[] keys, Destinations destinations) {
        long registrations = local == null ? 0 : local.registrations().getAsLong();
        if (cache != null) {
            cache.miss();
        }
        long askedAt = System.nanoTime();
        Lease lease = lease(keys);
        long[] lengths = new long[keys.length];
        try {
            List<Replica> chosen = chosen(lease);
            MemorySegment[] dest = destinations.choose(chosen);
            List<TransferRequest> batch = new ArrayList<>(keys.length);
            for (int i = 0; i < keys.length; i++) {
                Replica r = chosen.get(i);
                lengths[i] = r == null ? -1 : r.length();
                if (r == null || dest[i] == null) {
                    continue;
                }
                if (dest[i].byteSize() < r.length()) {
                    throw new IllegalArgumentException("block key " + r.key() + " holds " + r.length()
                            + " bytes, its destination only " + dest[i].byteSize());
                }
                batch.add(TransferRequest.read(dest[i], 0, r.segment(), r.offset(), r.length()));
            }
            run(batch);
            for (int i = 0; i < keys.length; i++) {
                if (chosen.get(i) != null && dest[i] != null && !verified(lease.replicas().get(i), chosen.get(i),
                        dest[i])) {
                    lengths[i] = -1; // every copy was corrupt, and is dropped now: a miss
                }
            }
        } catch (Throwable e) { // errors too (OutOfMemoryError from a destination): the lease must go back
            release(lease);
            throw e;
        }
        if (cache != null && cache.offer(lease, askedAt, registrations)) {
            leasesHeld.decrementAndGet();
            askedAtByLease.remove(lease.id());
            return lengths;
        }
        if (!release(lease)) {
            throw new StoreException("lease " + lease.id() + " expired during the read: bytes discarded");
        }
        return lengths;
    }

    /**
     * Checks the block read into {@code dest} from {@code read} against its CRC32C; when it
     * differs, reports the copy to the master (which drops it), counts it, and reads the
     * block again from the key's next copy, until one is intact.
     *
     * @param copies every copy of the key, as leased
     * @return false when no copy was intact (each was reported): the key is a miss
     * @throws StoreException when a transfer of another copy fails
     */
    private boolean verified(List<Replica> copies, Replica read, MemorySegment dest) {
        Replica r = read;
        int next = copies.indexOf(read) + 1;
        while (BlockContent.crc32c(dest.asSlice(0, r.length())) != r.crc32c()) {
            corruptCopies.increment();
            CorruptCopies.report(master, r);
            if (next >= copies.size()) {
                return false;
            }
            r = copies.get(next++);
            try {
                loader.load(r);
            } catch (RpcException e) {
                throw new StoreException("block key " + r.key() + " could not be loaded from SSD: " + e.getMessage(), e);
            }
            run(List.of(TransferRequest.read(dest, 0, r.segment(), r.offset(), r.length())));
        }
        return true;
    }

    /**
     * Copies whose bytes did not match their committed CRC32C when read, since start: each
     * was reported to the master and dropped, and never handed over.
     */
    public long corruptCopies() {
        return corruptCopies.sum();
    }

    /**
     * A reusable request of {@link #readCached}: fill {@link #keys} and {@link #destinations}
     * for {@code count} blocks; the lengths come back in {@link #lengths}. Not thread-safe:
     * one per thread.
     */
    public static final class CachedRead {
        /** Block keys to read. */
        public final long[] keys;
        /** Where each block goes (at least its length). */
        public final MemorySegment[] destinations;
        /** Out: each block's length, bytes. */
        public final long[] lengths;
        private final LeaseCache.Entry[] held;
        private int count;

        /** @param capacity most keys one read may have */
        public CachedRead(int capacity) {
            keys = new long[capacity];
            destinations = new MemorySegment[capacity];
            lengths = new long[capacity];
            held = new LeaseCache.Entry[capacity];
        }

        /** Most keys one read may have. */
        public int capacity() {
            return keys.length;
        }

        /** Sets how many of the arrays' entries the next read uses. */
        public void count(int n) {
            if (n < 0 || n > keys.length) {
                throw new IllegalArgumentException("count " + n + " outside [0, " + keys.length + "]");
            }
            count = n;
        }

        /** Keys the next read uses. */
        public int count() {
            return count;
        }
    }

    /**
     * Reads whole blocks whose leases the cache holds, straight from this process's segment:
     * no call to the master, no transfer, no blocking. Every block is checked against its
     * CRC32C, and the leases' validity again after the copy.
     *
     * @param maxBytes most bytes to copy; a read of more is left to {@link #get}
     * @return true when every block was read into its destination and checked (lengths in
     *         {@link CachedRead#lengths}); false when a key is not cached, a destination is
     *         smaller than its block, the read exceeds {@code maxBytes} or a lease may have
     *         lapsed meanwhile: then the caller must use {@link #get} (destinations may have
     *         been written, with nothing to rely on)
     */
    public boolean readCached(CachedRead r, long maxBytes) {
        if (cache == null || r.count == 0) {
            return false;
        }
        long now = System.nanoTime();
        int held = 0;
        try {
            long total = 0;
            for (int i = 0; i < r.count; i++) {
                LeaseCache.Entry e = cache.acquire(r.keys[i], now);
                if (e == null) {
                    return false;
                }
                r.held[held++] = e;
                total += e.length;
                if (total > maxBytes || r.destinations[i].byteSize() < e.length) {
                    return false;
                }
            }
            MemorySegment memory = local.memory();
            for (int i = 0; i < r.count; i++) {
                LeaseCache.Entry e = r.held[i];
                MemorySegment.copy(memory, e.offset, r.destinations[i], 0, e.length);
            }
            long after = System.nanoTime();
            for (int i = 0; i < r.count; i++) {
                LeaseCache.Entry e = r.held[i];
                if (!cache.stillValid(e, after)) {
                    return false;
                }
                if (BlockContent.crc32c(r.destinations[i].asSlice(0, e.length)) != e.crc32c) {
                    cache.invalidate(new long[] {e.key});
                    return false;
                }
                r.lengths[i] = e.length;
            }
            cache.hit();
            return true;
        } finally {
            for (int i = 0; i < held; i++) {
                cache.release(r.held[i]);
                r.held[i] = null;
            }
        }
    }

    /**
     * Reads ranges inside blocks: {@code blockOffsets[i]} bytes into the block of
     * {@code keys[i]}, as many bytes as {@code destinations[i]} holds.
     *
     * @throws KeyNotFoundException     when a key is not in the store (nothing is read)
     * @throws IllegalArgumentException when a range crosses the end of its block
     * @throws StoreException           when a transfer fails or the lease expired
     */
    public void readRanges(long[] keys, long[] blockOffsets, MemorySegment[] destinations) {
        Lease lease = lease(keys);
        try {
            List<Replica> chosen = chosen(lease);
            List<TransferRequest> batch = new ArrayList<>(keys.length);
            for (int i = 0; i < keys.length; i++) {
                Replica r = chosen.get(i);
                if (r == null) {
                    throw new KeyNotFoundException(keys[i]);
                }
                checkRange(keys[i], blockOffsets[i], destinations[i].byteSize(), r.length());
                batch.add(TransferRequest.read(destinations[i], 0, r.segment(), r.offset() + blockOffsets[i],
                        destinations[i].byteSize()));
            }
            run(batch);
        } catch (Throwable e) { // errors too: the lease must go back
            release(lease);
            throw e;
        }
        if (!release(lease)) {
            throw new StoreException("lease " + lease.id() + " expired during the read: bytes discarded");
        }
    }

    /**
     * The replica to read of each key (the master's first choice, loaded from SSD when it is
     * there), or null for a key not in the store.
     *
     * @throws StoreException when the node of an SSD-resident replica cannot load it
     */
    private List<Replica> chosen(Lease lease) {
        List<Replica> out = new ArrayList<>(lease.replicas().size());
        for (List<Replica> copies : lease.replicas()) {
            Replica r = copies.isEmpty() ? null : copies.getFirst();
            if (r != null) {
                try {
                    loader.load(r);
                } catch (RpcException e) {
                    throw new StoreException("block key " + r.key() + " could not be loaded from SSD: " + e.getMessage(), e);
                }
            }
            out.add(r);
        }
        return out;
    }

    /**
     * First phase of a put: allocates the keys not in the store ({@code blockBytes} each).
     *
     * @return one placement per key; {@link Placement#exists()} for keys already there
     * @throws StoreException when there is no room (nothing stays allocated)
     */
    public List<Placement> reserve(long[] keys, long blockBytes) {
        try {
            return master.putStart(keys, blockBytes, 1, preferredSegment);
        } catch (RpcException e) {
            throw new StoreException("put of " + keys.length + " blocks refused: " + e.getMessage(), e);
        }
    }

    /**
     * Writes ranges of reserved blocks: {@code sources[i]} goes {@code blockOffsets[i]} bytes
     * into the block of {@code targets[i]}.
     *
     * @throws IllegalArgumentException when a range crosses the end of its block
     * @throws StoreException           when a transfer fails
     */
    public void writeRanges(List<Placement> targets, long[] blockOffsets, MemorySegment[] sources) {
        List<TransferRequest> batch = new ArrayList<>(targets.size());
        for (int i = 0; i < targets.size(); i++) {
            Placement p = targets.get(i);
            checkRange(p.key(), blockOffsets[i], sources[i].byteSize(), p.length());
            batch.add(TransferRequest.write(sources[i], 0, p.segment(), p.offset() + blockOffsets[i],
                    sources[i].byteSize()));
        }
        run(batch);
    }

    /** Publishes reserved blocks; {@code crcs[i]} is the CRC32C of block {@code keys[i]}. */
    public void commit(long[] keys, int[] crcs) {
        if (keys.length > 0) {
            call(() -> {
                master.putCommit(keys, crcs);
                return null;
            });
        }
    }

    /** Frees reserved, uncommitted blocks; best effort (the master reclaims them after its put timeout anyway). */
    public void abort(long[] keys) {
        if (keys.length == 0) {
            return;
        }
        try {
            master.putAbort(keys);
        } catch (RpcException ignored) {
            // reclaimed by the master's put timeout
        }
    }

    private static void checkRange(long key, long offset, long length, long blockBytes) {
        if (offset < 0 || length < 1 || offset > blockBytes - length) {
            throw new IllegalArgumentException("range [" + offset + ", +" + length + ") lies outside block key "
                    + key + " of " + blockBytes + " bytes");
        }
    }

    private Lease lease(long[] keys) {
        long askedAt = System.nanoTime();
        Lease lease = call(() -> master.get(keys, leaseMillis));
        leasesHeld.incrementAndGet();
        askedAtByLease.put(lease.id(), askedAt);
        return lease;
    }

    /**
     * Ends a lease: without waiting for the master when less than half its TTL has passed
     * since it was asked for (it cannot have expired), else with a check.
     *
     * @return false when the lease had expired (the bytes read may have been reused)
     */
    private boolean release(Lease lease) {
        leasesHeld.decrementAndGet();
        Long askedAt = askedAtByLease.remove(lease.id());
        if (askedAt != null && System.nanoTime() - askedAt < leaseMillis * 500_000L) {
            master.releaseLater(lease.id());
            return true;
        }
        try {
            return master.release(lease.id());
        } catch (RpcException e) {
            return false;
        }
    }

    private void run(List<TransferRequest> batch) {
        if (batch.isEmpty()) {
            return;
        }
        try {
            engine.submit(batch).await();
        } catch (RuntimeException e) {
            Set<String> segments = new HashSet<>();
            batch.forEach(r -> segments.add(r.targetSegment()));
            for (String segment : segments) {
                try {
                    master.suspect(segment); // the master probes the node and drops it when it is dead
                } catch (RpcException ignored) {
                    // the master is unreachable too: report the transfer failure itself
                }
            }
            throw new StoreException("transfer failed: " + e.getMessage(), e);
        }
    }

    private static <T> T call(java.util.function.Supplier<T> rpc) {
        try {
            return rpc.get();
        } catch (RpcException e) {
            throw new StoreException(e.getMessage(), e);
        }
    }

    /** Returns the cached leases and closes the connections to store nodes opened for promotions from SSD. */
    @Override
    public void close() {
        if (cache != null) {
            cache.clear();
        }
        loader.close();
    }
}
