package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.ParallelCopy;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterApi;
import dev.ferry.store.master.Placement;
import dev.ferry.store.master.Replica;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.BatchHandle;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The store client's core, under both API shapes ({@link StoreClient} with a staging buffer,
 * {@link DirectStoreClient} straight from the caller's memory): puts, reads, leases, and the
 * one failure policy.
 *
 * <p>The failure policy: when requests of a batch fail, only the segments of the requests
 * that failed are reported to the master ({@link MasterApi#suspect}: it probes their nodes
 * and drops the dead ones at once). A read then reads the blocks whose requests failed again
 * from their next copy not known to have failed (the blocks that arrived are kept), while its
 * lease lasts: the lease's TTL is the request's deadline, and each retry moves to another
 * copy, so a read tries each copy at most once. A put aborts its uncommitted blocks and, when
 * the master declared a target node dead, places and writes them once more on the nodes
 * still alive; when a new leader of the masters refused its commit as started by a former
 * one ({@link RpcException#STALE_PUT}), it places, writes and commits the uncommitted blocks
 * once more with the new leader. A read also checks every whole block against its committed CRC32C: a copy that
 * differs is reported ({@link CorruptCopies}), counted, and the block is read from its next
 * copy, or is a miss when none is intact.
 *
 * <p>Resources: every lease taken is released and every uncommitted put aborted on every
 * path, errors such as {@link OutOfMemoryError} included ({@code finally}).
 *
 * <p>Thread-safe; concurrent calls must not write the same memory. Owns the connections
 * opened to store nodes for promotions from SSD: close it.
 */
final class StoreCore implements AutoCloseable {
    private final MasterApi master;
    private final TransferEngine engine;
    private final long leaseMillis;
    private final ReplicaLoader loader = new ReplicaLoader();
    private final LongAdder corruptCopies = new LongAdder();
    private final AtomicInteger leasesHeld = new AtomicInteger();

    private final Committer committer;

    /** Publishes written blocks at the master: {@link MasterApi#putCommit(BlockKey[], int[])}, or a sidecar's own way. */
    @FunctionalInterface
    interface Committer {
        /** Commits {@code keys} whose blocks have CRC32C {@code crcs}; throws what the master's commit throws. */
        void commit(BlockKey[] keys, int[] crcs);
    }

    /** @param leaseMillis lease TTL taken by reads, ms */
    StoreCore(MasterApi master, TransferEngine engine, long leaseMillis) {
        this(master, engine, leaseMillis, master::putCommit);
    }

    /** @param committer how this client's puts are committed (every put of this core commits through it) */
    StoreCore(MasterApi master, TransferEngine engine, long leaseMillis, Committer committer) {
        this.master = master;
        this.engine = engine;
        this.leaseMillis = leaseMillis;
        this.committer = committer;
    }

    /** Commits written blocks as this core's puts do. */
    void commit(BlockKey[] keys, int[] crcs) {
        committer.commit(keys, crcs);
    }

    MasterApi master() {
        return master;
    }

    long leaseMillis() {
        return leaseMillis;
    }

    /** Copies found corrupt since start (each reported and dropped). */
    long corruptCopies() {
        return corruptCopies.sum();
    }

    /** Leases taken by {@link #lease} and not yet released or handed over. */
    int leasesHeld() {
        return leasesHeld.get();
    }

    // ---------------------------------------------------------------- the failure policy

    /**
     * A batch in which requests failed: their segments were reported to the master.
     * {@code failed[i]} says whether request {@code i} failed; {@code gone} whether the master
     * declared a target node dead.
     */
    static final class TransferFailed extends RuntimeException {
        final Set<String> segments;
        final boolean[] failed;
        final boolean gone;

        TransferFailed(String message, Set<String> segments, boolean[] failed, boolean gone, Throwable cause) {
            super(message, cause);
            this.segments = segments;
            this.failed = failed;
            this.gone = gone;
        }
    }

    /**
     * Runs a batch and waits for it. When requests fail, reports the segments of those that
     * failed (all of the batch's when it could not be submitted) to the master.
     *
     * @throws TransferFailed when a request failed
     */
    void transfer(List<TransferRequest> batch) {
        if (batch.isEmpty()) {
            return;
        }
        boolean[] failed = new boolean[batch.size()];
        BatchHandle handle;
        try {
            handle = engine.submit(batch);
        } catch (RuntimeException e) {
            Arrays.fill(failed, true);
            throw failed(batch, failed, e);
        }
        try {
            handle.completion().join();
        } catch (RuntimeException e) {
            for (int i = 0; i < batch.size(); i++) {
                failed[i] = handle.requests().get(i).isCompletedExceptionally();
            }
            // Slices of the failed requests may still be in flight: the caller frees their ranges
            // on this failure, so it is reported only once none of them can land any more.
            handle.settled().exceptionally(unconfirmed -> null).join();
            throw failed(batch, failed, e);
        }
    }

    private TransferFailed failed(List<TransferRequest> batch, boolean[] failed, RuntimeException cause) {
        Set<String> segments = new HashSet<>();
        for (int i = 0; i < batch.size(); i++) {
            if (failed[i]) {
                segments.add(batch.get(i).targetSegment());
            }
        }
        boolean gone = false;
        for (String segment : segments) {
            try {
                gone |= master.suspect(segment); // the master probes the node and drops it when it is dead
            } catch (RpcException ignored) {
                // the master is unreachable too: report the transfer failure itself
            }
        }
        Throwable root = cause instanceof CompletionException && cause.getCause() != null ? cause.getCause() : cause;
        return new TransferFailed("transfer failed: " + root.getMessage(), segments, failed, gone, root);
    }

    // ---------------------------------------------------------------- puts

    /** Fills and lays out the writes of one block of a put. */
    @FunctionalInterface
    interface BlockWrites {
        /**
         * Adds to {@code batch} one WRITE of block {@code index} (of the put's keys) to each of
         * its {@code copies}.
         *
         * @param slot the block's place in the current window, from 0
         * @return the block's CRC32C
         */
        int write(int index, int slot, List<Placement> copies, List<TransferRequest> batch);
    }

    /** What a put did: per key of the call, {@link DirectStoreClient#STORED} or {@code EXISTED}. */
    record PutOutcome(byte[] results, long transferNanos) {
        int written() {
            int n = 0;
            for (byte b : results) {
                n += b == DirectStoreClient.STORED ? 1 : 0;
            }
            return n;
        }
    }

    /**
     * Writes and commits the blocks of {@code keys} not in the store yet, {@code window}
     * blocks per batch, each on {@code replicas} nodes; the failure policy above applies.
     *
     * @param lengths bytes of each block
     * @throws LengthConflictException when a key is in the store with another length (nothing
     *                                 of this call is allocated or written)
     * @throws StoreException          when there is no room or a transfer fails (this call's
     *                                 uncommitted blocks are aborted)
     */
    PutOutcome put(BlockKey[] keys, long[] lengths, int replicas, String preferredSegment, int window,
                   BlockWrites writes) {
        return put(keys, lengths, null, replicas, preferredSegment, window, writes);
    }

    /**
     * {@link #put(BlockKey[], long[], int, String, int, BlockWrites)} recording with each new
     * block the string key it is put under ({@code names[i]} of {@code keys[i]}; null for none).
     */
    PutOutcome put(BlockKey[] keys, long[] lengths, String[] names, int replicas, String preferredSegment, int window,
                   BlockWrites writes) {
        return put(keys, lengths, names, replicas, preferredSegment, window, writes, ParallelCopy.SERIAL);
    }

    /**
     * {@link #put(BlockKey[], long[], String[], int, String, int, BlockWrites)} whose
     * {@code writes} of one window may run on two threads ({@code copier}): then
     * {@code writes} must be safe to call concurrently for distinct blocks.
     */
    PutOutcome put(BlockKey[] keys, long[] lengths, String[] names, int replicas, String preferredSegment, int window,
                   BlockWrites writes, ParallelCopy copier) {
        byte[] results = new byte[keys.length];
        long nanos = put(keys, lengths, names, indexes(keys.length), replicas, preferredSegment, window, writes, results,
                true, copier);
        return new PutOutcome(results, nanos);
    }

    private long put(BlockKey[] keys, long[] lengths, String[] names, int[] which, int replicas, String preferredSegment,
                     int window, BlockWrites writes, byte[] results, boolean retry, ParallelCopy copier) {
        // One putStart per distinct length (the master allocates one size per call), all before any write.
        Map<Long, List<Integer>> byLength = new LinkedHashMap<>();
        for (int i : which) {
            byLength.computeIfAbsent(lengths[i], l -> new ArrayList<>()).add(i);
        }
        List<List<Placement>> toWrite = new ArrayList<>();
        List<Integer> toWriteIndex = new ArrayList<>();
        List<BlockKey> allocated = new ArrayList<>();
        boolean reserved = false;
        try {
            for (Map.Entry<Long, List<Integer>> group : byLength.entrySet()) {
                List<Integer> idx = group.getValue();
                BlockKey[] groupKeys = idx.stream().map(i -> keys[i]).toArray(BlockKey[]::new);
                String[] groupNames = names == null ? null : idx.stream().map(i -> names[i]).toArray(String[]::new);
                List<Placement> placements = putStart(groupKeys, group.getKey(), replicas, preferredSegment,
                        groupNames);
                Map<BlockKey, List<Placement>> copiesByKey = new LinkedHashMap<>();
                for (Placement p : placements) {
                    if (!p.exists()) {
                        copiesByKey.computeIfAbsent(p.key(), k -> new ArrayList<>(replicas)).add(p);
                    }
                }
                allocated.addAll(copiesByKey.keySet());
                for (int i : idx) {
                    List<Placement> copies = copiesByKey.remove(keys[i]);
                    if (copies == null) {
                        results[i] = DirectStoreClient.EXISTED; // a stored block, or a key repeated in this call
                    } else {
                        results[i] = DirectStoreClient.STORED;
                        toWrite.add(copies);
                        toWriteIndex.add(i);
                    }
                }
                checkLengths(placements, group.getKey());
            }
            reserved = true;
        } finally {
            if (!reserved) {
                abort(allocated.toArray(BlockKey[]::new));
            }
        }

        long nanos = 0;
        int done = 0;
        RuntimeException failure = null;
        try {
            while (done < toWrite.size()) {
                int n = Math.min(window, toWrite.size() - done);
                BlockKey[] batchKeys = new BlockKey[n];
                int[] crcs = new int[n];
                List<TransferRequest> batch = new ArrayList<>(n * replicas);
                @SuppressWarnings("unchecked")
                List<TransferRequest>[] slotWrites = new List[n];
                long[] slotBytes = new long[n];
                for (int slot = 0; slot < n; slot++) {
                    List<Placement> copies = toWrite.get(done + slot);
                    batchKeys[slot] = copies.getFirst().key();
                    slotWrites[slot] = new ArrayList<>(replicas);
                    slotBytes[slot] = lengths[toWriteIndex.get(done + slot)];
                }
                int first = done;
                copier.run(slotBytes, (from, to) -> {
                    for (int slot = from; slot < to; slot++) {
                        crcs[slot] = writes.write(toWriteIndex.get(first + slot), slot, toWrite.get(first + slot),
                                slotWrites[slot]);
                    }
                });
                for (List<TransferRequest> w : slotWrites) {
                    batch.addAll(w);
                }
                long start = System.nanoTime();
                transfer(batch);
                nanos += System.nanoTime() - start;
                committer.commit(batchKeys, crcs);
                done += n;
            }
        } catch (RuntimeException e) {
            failure = e;
        } finally { // errors too (OutOfMemoryError): nothing uncommitted may stay allocated
            if (done < toWrite.size()) {
                abort(toWrite.subList(done, toWrite.size()).stream().map(c -> c.getFirst().key()).toArray(BlockKey[]::new));
            }
        }
        if (failure == null) {
            return nanos;
        }
        int[] rest = toWriteIndex.subList(done, toWriteIndex.size()).stream().mapToInt(Integer::intValue).toArray();
        if (retry && failure instanceof TransferFailed f && f.gone) {
            // The master dropped the dead node: the rest goes to the nodes still alive, once.
            return nanos + put(keys, lengths, names, rest, replicas, preferredSegment, window, writes, results, false,
                    copier);
        }
        if (retry && failure instanceof RpcException r && r.status() == RpcException.STALE_PUT) {
            // A new leader took over mid-put and published nothing of it: the rest is put again
            // with it, once (the blocks committed before the switch are on their nodes, which
            // registered them with the new leader).
            return nanos + put(keys, lengths, names, rest, replicas, preferredSegment, window, writes, results, false,
                    copier);
        }
        throw failure instanceof StoreException se ? se : new StoreException("put failed after " + done + " of "
                + toWrite.size() + " blocks: " + failure.getMessage(), failure);
    }

    /**
     * First phase of a put: allocates the keys not in the store, {@code blockBytes} each.
     *
     * @return the master's placements (one per key and copy; one with {@link Placement#exists()} per key there)
     * @throws LengthConflictException when a key is there with another length (what this call
     *                                 allocated is freed again)
     * @throws StoreException          when there is no room (nothing stays allocated)
     */
    List<Placement> reserve(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment) {
        List<Placement> placements = putStart(keys, blockBytes, replicas, preferredSegment);
        boolean checked = false;
        try {
            checkLengths(placements, blockBytes);
            checked = true;
        } finally {
            if (!checked) {
                abort(placements.stream().filter(p -> !p.exists()).map(Placement::key).distinct().toArray(BlockKey[]::new));
            }
        }
        return placements;
    }

    private List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment) {
        return putStart(keys, blockBytes, replicas, preferredSegment, null);
    }

    private List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment,
                                     String[] names) {
        try {
            return names == null ? master.putStart(keys, blockBytes, replicas, preferredSegment)
                    : master.putStart(keys, blockBytes, replicas, preferredSegment, names);
        } catch (RpcException e) {
            throw new StoreException("put of " + keys.length + " blocks refused: " + e.getMessage(), e);
        }
    }

    /** The rule: a key names one block, of one length. */
    private static void checkLengths(List<Placement> placements, long blockBytes) {
        for (Placement p : placements) {
            if (p.exists() && p.length() != blockBytes) {
                throw new LengthConflictException(p.key(), p.length(), blockBytes);
            }
        }
    }

    /** Frees reserved, uncommitted blocks; best effort (the master reclaims them after its put timeout anyway). */
    void abort(BlockKey[] keys) {
        if (keys.length == 0) {
            return;
        }
        try {
            master.putAbort(keys);
        } catch (RpcException ignored) {
            // reclaimed by the master's put timeout
        }
    }

    private static int[] indexes(int n) {
        int[] out = new int[n];
        Arrays.setAll(out, i -> i);
        return out;
    }

    // ---------------------------------------------------------------- leases and reads

    /** A lease and the {@link System#nanoTime()} taken before it was asked for (or last renewed). */
    static final class HeldLease {
        final Lease lease;
        long askedAt;

        HeldLease(Lease lease, long askedAt) {
            this.lease = lease;
            this.askedAt = askedAt;
        }

        /** The request's deadline: when the lease may have expired, {@link System#nanoTime()}. */
        long expiresAt() {
            return askedAt + lease.ttlMillis() * 1_000_000L;
        }
    }

    /**
     * Leases {@code keys}; the caller must {@link #release} it (or hand it over with {@link #handedOver}).
     *
     * @throws StoreException when the master refuses or cannot be reached
     */
    HeldLease lease(BlockKey[] keys) {
        long askedAt = System.nanoTime();
        Lease lease;
        try {
            lease = master.get(keys, leaseMillis);
        } catch (RpcException e) {
            throw new StoreException("get of " + keys.length + " blocks refused: " + e.getMessage(), e);
        }
        leasesHeld.incrementAndGet();
        return new HeldLease(lease, askedAt);
    }

    /** The lease now belongs to someone else (a lease cache), who returns it. */
    void handedOver(HeldLease held) {
        leasesHeld.decrementAndGet();
    }

    /**
     * Ends a lease: without waiting for the master while it surely still holds
     * ({@link LeaseRenewal}), else with a check.
     *
     * @return false when the lease had expired (the bytes read may have been reused)
     */
    boolean release(HeldLease held) {
        leasesHeld.decrementAndGet();
        if (LeaseRenewal.stillHolds(held.askedAt, System.nanoTime(), leaseMillis)) {
            try {
                master.releaseLater(held.lease.id());
            } catch (RpcException ignored) {
                // the master expires it after its TTL
            }
            return true;
        }
        try {
            return master.release(held.lease.id());
        } catch (RpcException e) {
            return false;
        }
    }

    /**
     * Ends a lease on a failed read's path, waiting for the master, so that the blocks are
     * free again when the caller sees the failure; best effort (an unreachable master lets
     * the lease run out).
     */
    void releaseAfterFailure(HeldLease held) {
        leasesHeld.decrementAndGet();
        try {
            master.release(held.lease.id());
        } catch (RpcException ignored) {
            // the lease runs out after its TTL
        }
    }

    /**
     * Reads keys {@code [from, from + n)} of a lease: key {@code from + i} into {@code dest[i]}
     * (null: skip it; a key with no copy is skipped too), the whole block when
     * {@code blockOffsets} is null, else {@code dest[i].byteSize()} bytes from
     * {@code blockOffsets[i]} into the block (the caller checked the range). Whole blocks are
     * checked against their CRC32C. The failure policy above applies; SSD-resident copies
     * are loaded first (a node that cannot load one counts as failed for this read).
     *
     * @param chosen out: per key the copy read (intact, for whole blocks), or null when the key
     *               was skipped or no copy was intact (a miss)
     * @param failed segments that failed during this request; grows
     * @throws IllegalArgumentException when a whole block is longer than its destination (nothing is read)
     * @throws StoreException           when no copy of a block can be read, or the lease expired before a retry
     */
    void read(HeldLease held, int from, int n, MemorySegment[] dest, long[] blockOffsets, Replica[] chosen,
              Set<String> failed) {
        List<List<Replica>> copies = held.lease.replicas();
        boolean[] pending = new boolean[n];
        for (int i = 0; i < n; i++) {
            chosen[i] = null;
            List<Replica> c = copies.get(from + i);
            pending[i] = dest[i] != null && !c.isEmpty();
            if (pending[i] && blockOffsets == null && dest[i].byteSize() < c.getFirst().length()) {
                throw new IllegalArgumentException("block key " + c.getFirst().key() + " holds " + c.getFirst().length()
                        + " bytes, its destination only " + dest[i].byteSize());
            }
        }
        Set<Replica> corrupt = new HashSet<>();
        int[] slots = new int[n];
        for (int round = 0; ; round++) {
            if (round > 0 && System.nanoTime() - held.expiresAt() > 0) {
                throw new StoreException("lease " + held.lease.id() + " expired before the blocks could be read "
                        + "from another copy");
            }
            List<TransferRequest> batch = new ArrayList<>(n);
            RuntimeException loadFailure = null;
            for (int i = 0; i < n; i++) {
                if (!pending[i]) {
                    continue;
                }
                Replica r;
                while (true) {
                    r = firstLive(copies.get(from + i), failed, corrupt);
                    if (r == null) {
                        throw new StoreException("no replica of block key " + copies.get(from + i).getFirst().key()
                                + " could be read" + (loadFailure == null ? "" : ": " + loadFailure.getMessage()),
                                loadFailure);
                    }
                    try {
                        loader.load(r);
                        break;
                    } catch (RpcException e) {
                        failed.add(r.segment()); // no suspect: the node answered, or will be found by the read
                        loadFailure = e;
                    }
                }
                chosen[i] = r;
                slots[batch.size()] = i;
                batch.add(blockOffsets == null
                        ? TransferRequest.read(dest[i], 0, r.segment(), r.offset(), r.length())
                        : TransferRequest.read(dest[i], 0, r.segment(), r.offset() + blockOffsets[i],
                                dest[i].byteSize()));
            }
            boolean[] requestFailed = null;
            try {
                transfer(batch);
            } catch (TransferFailed e) {
                failed.addAll(e.segments);
                requestFailed = e.failed;
                loadFailure = e;
            }
            boolean again = false;
            for (int b = 0; b < batch.size(); b++) {
                int i = slots[b];
                Replica r = chosen[i];
                if (requestFailed != null && requestFailed[b]) {
                    if (firstLive(copies.get(from + i), failed, corrupt) == null) {
                        throw new StoreException("no replica of block key " + r.key() + " could be read: "
                                + loadFailure.getMessage(), loadFailure);
                    }
                    again = true;
                    continue;
                }
                if (blockOffsets != null
                        || BlockContent.crc32c(dest[i].asSlice(0, r.length())) == r.crc32c()) {
                    pending[i] = false;
                    continue;
                }
                corruptCopies.increment();
                CorruptCopies.report(master, r);
                corrupt.add(r);
                if (firstLive(copies.get(from + i), failed, corrupt) == null) {
                    chosen[i] = null; // every copy left was corrupt, and is dropped now: a miss
                    pending[i] = false;
                    continue;
                }
                again = true;
            }
            if (!again) {
                return;
            }
        }
    }

    private static Replica firstLive(List<Replica> copies, Set<String> failed, Set<Replica> corrupt) {
        for (Replica r : copies) {
            if (!failed.contains(r.segment()) && !corrupt.contains(r)) {
                return r;
            }
        }
        return null;
    }

    /** Closes the connections to store nodes opened for promotions from SSD. */
    @Override
    public void close() {
        loader.close();
    }
}
