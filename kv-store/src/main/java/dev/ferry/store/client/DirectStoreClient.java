package dev.ferry.store.client;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.ParallelCopy;
import dev.ferry.store.master.MasterApi;
import dev.ferry.store.master.Placement;
import dev.ferry.store.master.Replica;
import dev.ferry.store.node.CommitIndex;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.zip.CRC32C;

/**
 * The store read and written straight from the caller's memory, with no staging copy: the
 * transfer engine moves each block between the caller's {@link MemorySegment} (a mapping of
 * another process's shared buffer, for the sidecar) and the block's replica. Besides whole
 * blocks it offers the pieces of a two-phase put ({@link #reserve}, {@link #writeRange},
 * {@link #commit}, {@link #abort}) for writers that produce a block in parts (layer by layer),
 * and ranged reads inside a block.
 *
 * <p>A thin shape over the one client core ({@link StoreCore}), which {@link StoreClient}
 * shares: when a read's transfer fails, only the failed segments are reported to the master
 * and the blocks are read again from their next copy; a failed put aborts what it allocated
 * (nothing half-written is visible) and, when the master declared a target node dead, is
 * placed and written once more on the nodes still alive. Whole-block gets check every block
 * against its committed CRC32C, and a copy that fails is dropped and read from another
 * replica (or is a miss); ranged reads cannot check (the CRC covers the whole block).
 * Errors: {@link KeyNotFoundException} for a missing key a call needs,
 * {@link IllegalArgumentException} for a range outside a block or a destination too small,
 * {@link LengthConflictException} for a put of a key stored with another length,
 * {@link StoreException} for no space, a transfer that failed on every copy or an expired lease.
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
    private final StoreCore core;
    private final String preferredSegment;
    private final LocalSegment local;
    private final LeaseCache cache;
    private final ParallelCopy copier;
    private final LocalGrants grants;

    /**
     * The store node of this process: its segment's name and memory, and its registration
     * count ({@link dev.ferry.store.node.StoreNode#registrations()}), and its index, which
     * takes the node's index updates with each commit's answer (null: the master waits for the
     * node to acknowledge its commits as for any other node).
     */
    public record LocalSegment(String name, MemorySegment memory, LongSupplier registrations, CommitIndex index) {
        /** A local segment whose commits wait for the node's acknowledgement. */
        public LocalSegment(String name, MemorySegment memory, LongSupplier registrations) {
            this(name, memory, registrations, null);
        }
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
        this(master, engine, leaseMillis, local, leaseCacheMillis, leaseCacheBytes, ParallelCopy.SERIAL);
    }

    /**
     * As {@link #DirectStoreClient(MasterApi, TransferEngine, long, LocalSegment, long, long)},
     * with the copier that splits the copies of one large put into this process's segment
     * across two threads ({@link ParallelCopy}; owned by the caller, who closes it after this client).
     */
    public DirectStoreClient(MasterApi master, TransferEngine engine, long leaseMillis, LocalSegment local,
                             long leaseCacheMillis, long leaseCacheBytes, ParallelCopy copier) {
        this(master, engine, leaseMillis, local, leaseCacheMillis, leaseCacheBytes, copier, true);
    }

    /**
     * As {@link #DirectStoreClient(MasterApi, TransferEngine, long, LocalSegment, long, long, ParallelCopy)},
     * saying whether puts of one copy into the local node use space the master grants ahead
     * ({@link LocalGrants}: one master call per put instead of two; needs the node's index in
     * {@code local}). Granted space counts as used until a put takes it.
     */
    public DirectStoreClient(MasterApi master, TransferEngine engine, long leaseMillis, LocalSegment local,
                             long leaseCacheMillis, long leaseCacheBytes, ParallelCopy copier, boolean grants) {
        this.copier = copier;
        this.master = master;
        CommitIndex index = local == null ? null : local.index();
        // The node's index has the blocks before the writer hears of the commit.
        this.core = new StoreCore(master, engine, leaseMillis, index == null ? master::putCommit
                : (keys, crcs) -> index.commit(acked -> master.putCommit(keys, crcs, index.nodeId(), acked)));
        this.local = local;
        this.preferredSegment = local == null ? null : local.name();
        this.cache = local == null || leaseCacheMillis <= 0 ? null : new LeaseCache(local.name(), leaseCacheMillis,
                leaseMillis, leaseCacheBytes, local.registrations(), master::releaseLater);
        this.grants = index == null || !grants ? null
                : new LocalGrants(master, local, LocalGrants.chunkFor(local.memory().byteSize()));
    }

    /** Blocks put through space granted ahead ({@link LocalGrants}) since start. */
    public long grantedPuts() {
        return grants == null ? 0 : grants.puts();
    }

    /** Calls of the master that asked for space ahead of puts, since start. */
    public long grantCalls() {
        return grants == null ? 0 : grants.grantCalls();
    }

    /** Space granted ahead of puts and not in use now, bytes. */
    public long grantedBytes() {
        return grants == null ? 0 : grants.pooledBytes();
    }

    /** Gives the space granted ahead back to the master when no put used it for a second; call now and then. */
    public void returnIdleGrants() {
        if (grants != null) {
            grants.returnIdle();
        }
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
        return core.leasesHeld();
    }

    /** How many leading keys are committed blocks; touches them. */
    public int lookupPrefix(BlockKey[] keys) {
        return call(() -> master.lookupPrefix(keys));
    }

    /** Whether each key is a committed block, without touching it. */
    public boolean[] exists(BlockKey[] keys) {
        return call(() -> master.exists(keys));
    }

    /** @see dev.ferry.store.master.Master#remove */
    public byte[] remove(BlockKey[] keys) {
        if (cache != null) {
            cache.invalidate(keys);
            cache.flush(); // the releases reach the master before the remove (in order on one connection)
        }
        return call(() -> master.remove(keys));
    }

    /**
     * Removes every block of the store that no reader leases (with {@code force}, hard-pinned
     * ones too), after giving back this client's cached leases.
     *
     * @return how many blocks were removed
     * @see dev.ferry.store.master.Master#removeAll
     */
    public long removeAll(boolean force) {
        if (cache != null) {
            cache.clear();
        }
        return call(() -> master.removeAll(force));
    }

    /**
     * Removes every block put under a string key that matches {@code pattern} (a Java regular
     * expression, found anywhere in the key), after giving back this client's cached leases;
     * leased blocks stay, hard-pinned ones unless {@code force}.
     *
     * @return how many blocks were removed
     * @throws StoreException when the pattern does not compile, or the master does not record string keys
     * @see dev.ferry.store.master.Master#removeByRegex
     */
    public long removeByRegex(String pattern, boolean force) {
        if (cache != null) {
            cache.clear();
        }
        return call(() -> master.removeByRegex(pattern, force));
    }

    /**
     * Writes and commits the blocks not in the store yet; {@code blocks[i]} holds the whole
     * block of {@code keys[i]} (its size is the block's size, bytes).
     *
     * @return per key {@link #STORED} or {@link #EXISTED}
     * @throws LengthConflictException when a key is in the store (or being written) with
     *                                 another length: nothing of this call is written
     * @throws StoreException          when there is no room or a transfer fails (this call's
     *                                 uncommitted blocks are aborted)
     */
    public byte[] put(BlockKey[] keys, MemorySegment[] blocks) {
        return put(keys, blocks, PutOptions.DEFAULT);
    }

    /**
     * {@link #put(BlockKey[], MemorySegment[])} with {@code options.replicas()} copies per new
     * block (the first on {@code options.preferredSegment()} when it has room, else on this
     * client's own node when it has); with a pin in {@code options}, every key of the call,
     * new or already stored, is then pinned ({@link #pin(BlockKey[], PutOptions)}).
     */
    public byte[] put(BlockKey[] keys, MemorySegment[] blocks, PutOptions options) {
        MemorySegment[][] parts = new MemorySegment[blocks.length][];
        for (int i = 0; i < blocks.length; i++) {
            parts[i] = new MemorySegment[] {blocks[i]};
        }
        return put(keys, parts, options);
    }

    /**
     * {@link #put(BlockKey[], MemorySegment[], PutOptions)} of blocks gathered from parts: the
     * block of {@code keys[i]} is the concatenation of {@code parts[i]}, in order (each part
     * goes straight to the block's copies: nothing is joined in memory first).
     *
     * @throws LengthConflictException as {@link #put(BlockKey[], MemorySegment[])}
     * @throws StoreException          as {@link #put(BlockKey[], MemorySegment[])}
     */
    public byte[] put(BlockKey[] keys, MemorySegment[][] parts, PutOptions options) {
        return put(keys, parts, options, null);
    }

    /**
     * {@link #put(BlockKey[], MemorySegment[][], PutOptions)} recording with each new block the
     * string key it is put under ({@code names[i]} of {@code keys[i]}; null for none), which
     * {@link #removeByRegex} matches.
     */
    public byte[] put(BlockKey[] keys, MemorySegment[][] parts, PutOptions options, String[] names) {
        long[] lengths = new long[keys.length];
        for (int i = 0; i < keys.length; i++) {
            for (MemorySegment part : parts[i]) {
                lengths[i] += part.byteSize();
            }
        }
        String preferred = options.preferredSegment() != null ? options.preferredSegment() : preferredSegment;
        ParallelCopy split = copier;
        for (int i = 0; i < keys.length && split != ParallelCopy.SERIAL; i++) {
            for (MemorySegment part : parts[i]) {
                split = ParallelCopy.shareable(part) ? split : ParallelCopy.SERIAL; // confined: the caller's only
            }
        }
        ParallelCopy copy = split;
        byte[] granted = grants != null && options.replicas() == 1 && preferred.equals(local.name())
                ? grants.put(keys, lengths, names, blocks -> {
                    Integer[] sums = new Integer[keys.length];
                    copy.run(lengths, (from, to) -> {
                        for (int i = from; i < to; i++) {
                            sums[i] = copyWithCrc(parts[i], blocks[i]);
                        }
                    });
                    return sums;
                }) : null;
        int[] rest = indexes(granted, keys.length);
        if (rest.length == 0) {
            pin(keys, options);
            return granted;
        }
        BlockKey[] restKeys = new BlockKey[rest.length];
        MemorySegment[][] restParts = new MemorySegment[rest.length][];
        long[] restLengths = new long[rest.length];
        String[] restNames = names == null ? null : new String[rest.length];
        for (int j = 0; j < rest.length; j++) {
            restKeys[j] = keys[rest[j]];
            restParts[j] = parts[rest[j]];
            restLengths[j] = lengths[rest[j]];
            if (names != null) {
                restNames[j] = names[rest[j]];
            }
        }
        byte[] results = putUsual(restKeys, restParts, restLengths, restNames, options, preferred, split);
        if (granted != null) {
            for (int j = 0; j < rest.length; j++) {
                granted[rest[j]] = results[j];
            }
            results = granted;
        }
        pin(keys, options);
        return results;
    }

    /** Copies the parts into {@code to}, each checksummed as it lies there; answers the CRC32C. */
    private static int copyWithCrc(MemorySegment[] parts, MemorySegment to) {
        CRC32C crc = new CRC32C();
        long at = 0;
        for (MemorySegment part : parts) {
            if (part.byteSize() > 0) {
                BlockContent.copyWithCrc(part, to.asSlice(at, part.byteSize()), crc);
                at += part.byteSize();
            }
        }
        return (int) crc.getValue();
    }

    /** Writes blocks placed in this process's store node ({@link #putInPlace}). */
    @FunctionalInterface
    public interface Fill {
        /**
         * Fills {@code blocks[i]} (the whole block, its length as asked) for each block.
         *
         * @return per block its CRC32C as it now lies there, or null when it could not be
         *         filled (nothing is stored for it)
         */
        Integer[] fill(MemorySegment[] blocks);
    }

    /** {@link #putInPlace}: the block could not be filled; nothing is stored for it. */
    public static final byte UNFILLED = LocalGrants.UNFILLED;
    /** {@link #putInPlace}: the block must be put the usual way ({@link #reserve}, write, {@link #commit}). */
    public static final byte USUAL = LocalGrants.FALLBACK;

    /**
     * Puts one copy of each block into this process's store node through space the master
     * granted ahead ({@link LocalGrants}): {@code fill} writes the blocks where they lie, then
     * one call of the master publishes them. No pins are taken.
     *
     * @param names per key its string key or null; null for none
     * @return per key {@link #STORED}, {@link #EXISTED}, {@link #UNFILLED} or {@link #USUAL};
     *         null when none was put so (no space granted, no local node): put them the usual way
     * @throws RuntimeException what {@code fill} throws (nothing is published then)
     */
    public byte[] putInPlace(BlockKey[] keys, long[] lengths, String[] names, Fill fill) {
        return grants == null ? null : grants.put(keys, lengths, names, fill);
    }

    /** The keys {@link LocalGrants#put} left to the usual way: all when it answered null. */
    private static int[] indexes(byte[] granted, int n) {
        return java.util.stream.IntStream.range(0, n)
                .filter(i -> granted == null || granted[i] == LocalGrants.FALLBACK).toArray();
    }

    /** A put through {@link MasterApi#putStart} and a commit: placed by the master, written, committed. */
    private byte[] putUsual(BlockKey[] keys, MemorySegment[][] parts, long[] lengths, String[] names,
                            PutOptions options, String preferred, ParallelCopy split) {
        return core.put(keys, lengths, names, options.replicas(), preferred, Integer.MAX_VALUE,
                (index, slot, copies, batch) -> {
                    // A copy in this process's segment is written here, each piece checksummed
                    // as it lies there; the others go through the engine.
                    MemorySegment here = null;
                    for (Placement p : copies) {
                        here = here == null ? localBlock(p) : here;
                    }
                    CRC32C crc = new CRC32C();
                    long at = 0;
                    for (MemorySegment part : parts[index]) {
                        if (part.byteSize() == 0) {
                            continue;
                        }
                        for (Placement p : copies) {
                            if (here == null || localBlock(p) == null) {
                                batch.add(TransferRequest.write(part, 0, p.segment(), p.offset() + at,
                                        part.byteSize()));
                            }
                        }
                        if (here != null) {
                            BlockContent.copyWithCrc(part, here.asSlice(at, part.byteSize()), crc);
                        } else {
                            crc.update(part.asByteBuffer());
                        }
                        at += part.byteSize();
                    }
                    return (int) crc.getValue();
                }, split).results();
    }

    /** Pins committed blocks against eviction until they are removed (a hard pin); unknown keys are skipped. */
    public void pin(BlockKey[] keys) {
        if (keys.length > 0) {
            call(() -> master.pin(keys, true, 0));
        }
    }

    /**
     * The pins {@code options} asks for, of committed blocks (unknown keys are skipped): a hard
     * pin when {@code options.hardPin()}, else a soft pin of {@code options.softPinMillis()}
     * when that is positive; nothing otherwise.
     */
    public void pin(BlockKey[] keys, PutOptions options) {
        if (options.hardPin()) {
            pin(keys);
        } else if (options.softPinMillis() > 0 && keys.length > 0) {
            call(() -> master.pin(keys, false, options.softPinMillis()));
        }
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
     * @throws IllegalArgumentException when a destination is smaller than its block (nothing is read)
     * @throws StoreException           when no copy of a block can be read (each was tried), or the
     *                                  lease expired
     */
    public long[] get(BlockKey[] keys, Destinations destinations) {
        long registrations = local == null ? 0 : local.registrations().getAsLong();
        if (cache != null) {
            cache.miss();
        }
        StoreCore.HeldLease held = core.lease(keys);
        long[] lengths = new long[keys.length];
        boolean released = false;
        try {
            List<Replica> first = new ArrayList<>(keys.length);
            for (List<Replica> copies : held.lease.replicas()) {
                first.add(copies.isEmpty() ? null : copies.getFirst());
            }
            MemorySegment[] dest = destinations.choose(first);
            Replica[] chosen = new Replica[keys.length];
            core.read(held, 0, keys.length, dest, null, chosen, new HashSet<>());
            for (int i = 0; i < keys.length; i++) {
                Replica r = first.get(i);
                // every copy corrupt (and dropped now): a miss
                lengths[i] = r == null || (dest[i] != null && chosen[i] == null) ? -1 : r.length();
            }
            boolean cached = cache != null && cache.offer(held.lease, held.askedAt, registrations);
            released = true;
            if (cached) {
                core.handedOver(held);
                return lengths;
            }
            if (!core.release(held)) {
                throw new StoreException("lease " + held.lease.id() + " expired during the read: bytes discarded");
            }
            return lengths;
        } finally { // errors too (OutOfMemoryError from a destination): the lease must go back
            if (!released) {
                core.releaseAfterFailure(held);
            }
        }
    }

    /** Receives the blocks of {@link #getInPlace}. */
    @FunctionalInterface
    public interface BlockVisitor {
        /**
         * @param index the key's index in the request
         * @param block the whole block, its bytes checked against the block's CRC32C: this
         *              process's segment itself (a reader's lease keeps it), or a copy read
         *              from another node; valid until {@link #finish} returns, never to be written
         * @return what to answer for the key: its length, or a code of the caller (negative)
         */
        long accept(int index, MemorySegment block);

        /**
         * Called once after the last {@link #accept}, while every block handed over is still
         * valid: a visitor that gathers its copies does them here, and may change the answers
         * ({@code answers[i]}, -1 for keys not found).
         */
        default void finish(long[] answers) {
        }
    }

    /**
     * Reads whole blocks with no copy where they live in this process's segment: each such
     * block is checked against its committed CRC32C in place and handed to {@code visitor}
     * there, under the read's lease. A block held only by other nodes, or whose copy here
     * fails its check (reported and dropped, as {@link #get} does), is read into scratch
     * memory first ({@link #get}'s rules), then handed over. Keys not in the store are -1
     * and skip the visitor. The lease cache is not consulted (every call leases).
     *
     * @return per key the visitor's answer, or -1 when the key is not in the store (or no copy is intact)
     * @throws StoreException when no copy of a block can be read, or the lease expired
     */
    public long[] getInPlace(BlockKey[] keys, BlockVisitor visitor) {
        long registrations = local == null ? 0 : local.registrations().getAsLong();
        StoreCore.HeldLease held = core.lease(keys);
        long[] answers = new long[keys.length];
        boolean released = false;
        try (Arena scratch = Arena.ofConfined()) {
            List<List<Replica>> all = held.lease.replicas();
            MemorySegment[] dest = new MemorySegment[keys.length];
            boolean elsewhere = false;
            for (int i = 0; i < keys.length; i++) {
                List<Replica> copies = all.get(i);
                answers[i] = -1;
                if (copies.isEmpty()) {
                    continue;
                }
                Replica here = localCopy(copies);
                if (here != null) {
                    MemorySegment block = local.memory().asSlice(here.offset(), here.length());
                    if (BlockContent.crc32c(block) == here.crc32c()) {
                        answers[i] = visitor.accept(i, block);
                        continue;
                    }
                }
                dest[i] = scratch.allocate(copies.getFirst().length(), 64);
                elsewhere = true;
            }
            if (elsewhere) {
                Replica[] chosen = new Replica[keys.length];
                core.read(held, 0, keys.length, dest, null, chosen, new HashSet<>());
                for (int i = 0; i < keys.length; i++) {
                    if (dest[i] != null && chosen[i] != null) {
                        answers[i] = visitor.accept(i, dest[i].asSlice(0, chosen[i].length()));
                    }
                }
            }
            visitor.finish(answers);
            boolean cached = cache != null && cache.offer(held.lease, held.askedAt, registrations);
            released = true;
            if (cached) {
                core.handedOver(held);
                return answers;
            }
            if (!core.release(held)) {
                throw new StoreException("lease " + held.lease.id() + " expired during the read: bytes discarded");
            }
            return answers;
        } finally { // errors too: the lease must go back
            if (!released) {
                core.releaseAfterFailure(held);
            }
        }
    }

    /** The copy of a block in this process's segment whose bytes are there (not on SSD), or null. */
    private Replica localCopy(List<Replica> copies) {
        if (local == null) {
            return null;
        }
        for (Replica r : copies) {
            if (r.segment().equals(local.name()) && !r.needsLoad()) {
                return r;
            }
        }
        return null;
    }

    /**
     * The memory of a reserved block ({@link #reserve}) when it was placed in this process's
     * segment, for the writer to fill in place before {@link #commit}; null when it lies on
     * another node (write it with {@link #writeRanges}).
     */
    public MemorySegment localBlock(Placement p) {
        return local != null && p.segment().equals(local.name()) ? local.memory().asSlice(p.offset(), p.length())
                : null;
    }

    /**
     * Copies whose bytes did not match their committed CRC32C when read, since start: each
     * was reported to the master and dropped, and never handed over.
     */
    public long corruptCopies() {
        return core.corruptCopies();
    }

    /**
     * A reusable request of {@link #readCached}: fill {@link #keys} and {@link #destinations}
     * for {@code count} blocks; the lengths come back in {@link #lengths}. Not thread-safe:
     * one per thread.
     */
    public static final class CachedRead {
        /** Block keys to read. */
        public final BlockKey[] keys;
        /** Where each block goes (at least its length). */
        public final MemorySegment[] destinations;
        /** Out: each block's length, bytes. */
        public final long[] lengths;
        private final LeaseCache.Entry[] held;
        private int count;

        /** @param capacity most keys one read may have */
        public CachedRead(int capacity) {
            keys = new BlockKey[capacity];
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
                    cache.invalidate(new BlockKey[] {e.key});
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
     * Where each block's copies lie now, read under a lease given back at once (a copy listed
     * may be evicted right after): per key its replicas, DRAM ones first (a replica with a
     * load endpoint is on its node's SSD only), empty for a key not in the store.
     *
     * @throws StoreException when the master cannot be reached
     */
    public List<List<Replica>> replicas(BlockKey[] keys) {
        if (keys.length == 0) {
            return List.of();
        }
        StoreCore.HeldLease held = core.lease(keys);
        boolean released = false;
        try {
            List<List<Replica>> out = List.copyOf(held.lease.replicas());
            released = true;
            core.release(held);
            return out;
        } finally {
            if (!released) {
                core.releaseAfterFailure(held);
            }
        }
    }

    /**
     * Reads ranges inside blocks: {@code blockOffsets[i]} bytes into the block of
     * {@code keys[i]}, as many bytes as {@code destinations[i]} holds.
     *
     * @throws KeyNotFoundException     when a key is not in the store (nothing is read)
     * @throws IllegalArgumentException when a range crosses the end of its block
     * @throws StoreException           when no copy of a block can be read (each was tried), or the
     *                                  lease expired
     */
    public void readRanges(BlockKey[] keys, long[] blockOffsets, MemorySegment[] destinations) {
        StoreCore.HeldLease held = core.lease(keys);
        boolean released = false;
        try {
            for (int i = 0; i < keys.length; i++) {
                List<Replica> copies = held.lease.replicas().get(i);
                if (copies.isEmpty()) {
                    throw new KeyNotFoundException(keys[i]);
                }
                checkRange(keys[i], blockOffsets[i], destinations[i].byteSize(), copies.getFirst().length());
            }
            core.read(held, 0, keys.length, destinations, blockOffsets, new Replica[keys.length], new HashSet<>());
            released = true;
            if (!core.release(held)) {
                throw new StoreException("lease " + held.lease.id() + " expired during the read: bytes discarded");
            }
        } finally { // errors too: the lease must go back
            if (!released) {
                core.releaseAfterFailure(held);
            }
        }
    }

    /**
     * First phase of a put: allocates the keys not in the store ({@code blockBytes} each).
     *
     * @return one placement per key; {@link Placement#exists()} for keys already there
     * @throws LengthConflictException when a key is in the store (or being written) with
     *                                 another length (nothing stays allocated)
     * @throws StoreException          when there is no room (nothing stays allocated)
     */
    public List<Placement> reserve(BlockKey[] keys, long blockBytes) {
        return core.reserve(keys, blockBytes, 1, preferredSegment);
    }

    /**
     * Writes ranges of reserved blocks: {@code sources[i]} goes {@code blockOffsets[i]} bytes
     * into the block of {@code targets[i]}.
     *
     * @throws IllegalArgumentException when a range crosses the end of its block
     * @throws StoreException           when a transfer fails (the failed segments are reported to the master)
     */
    public void writeRanges(List<Placement> targets, long[] blockOffsets, MemorySegment[] sources) {
        List<TransferRequest> batch = new ArrayList<>(targets.size());
        for (int i = 0; i < targets.size(); i++) {
            Placement p = targets.get(i);
            checkRange(p.key(), blockOffsets[i], sources[i].byteSize(), p.length());
            batch.add(TransferRequest.write(sources[i], 0, p.segment(), p.offset() + blockOffsets[i],
                    sources[i].byteSize()));
        }
        try {
            core.transfer(batch);
        } catch (StoreCore.TransferFailed e) {
            throw new StoreException(e.getMessage(), e);
        }
    }

    /** Publishes reserved blocks; {@code crcs[i]} is the CRC32C of block {@code keys[i]}. */
    public void commit(BlockKey[] keys, int[] crcs) {
        commit(keys, crcs, false);
    }

    /** {@link #commit(BlockKey[], int[])}, then, when {@code hardPin}, {@link #pin} of the keys. */
    public void commit(BlockKey[] keys, int[] crcs, boolean hardPin) {
        commit(keys, crcs, new PutOptions(1, hardPin));
    }

    /** {@link #commit(BlockKey[], int[])}, then the pins {@code options} asks for ({@link #pin(BlockKey[], PutOptions)}). */
    public void commit(BlockKey[] keys, int[] crcs, PutOptions options) {
        if (keys.length > 0) {
            call(() -> {
                core.commit(keys, crcs);
                return null;
            });
            pin(keys, options);
        }
    }

    /** Frees reserved, uncommitted blocks; best effort (the master reclaims them after its put timeout anyway). */
    public void abort(BlockKey[] keys) {
        core.abort(keys);
    }

    private static void checkRange(BlockKey key, long offset, long length, long blockBytes) {
        if (offset < 0 || length < 1 || offset > blockBytes - length) {
            throw new IllegalArgumentException("range [" + offset + ", +" + length + ") lies outside block key "
                    + key + " of " + blockBytes + " bytes");
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
        if (grants != null) {
            grants.close();
        }
        core.close();
    }
}
