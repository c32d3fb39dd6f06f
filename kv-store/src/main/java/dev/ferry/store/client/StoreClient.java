package dev.ferry.store.client;

import dev.ferry.store.gpu.EngineTier;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterApi;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.Placement;
import dev.ferry.store.master.Replica;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * The store as prefill and decode nodes use it: prefix lookup, put and get of KV blocks
 * through a staging buffer of the caller's, a window of blocks at a time. A thin shape over
 * the one client core ({@link StoreCore}), which {@link DirectStoreClient} shares: the same
 * failure policy, lease rule and corrupt-copy handling.
 *
 * <p>Put: allocate all keys (each on {@code replicas} nodes, the preferred segment first),
 * then per window fill once, WRITE every replica as one batch, commit; on a failure the
 * uncommitted keys are aborted so nothing half-written becomes visible, and when the master
 * declared a target node dead the rest is placed on the nodes still alive, once. A key in the
 * store with another length fails the put ({@link LengthConflictException}). Get: lease all
 * keys, READ per window from each key's first copy not known to have failed; the blocks whose
 * reads failed are read again from their next copy (only the failed segments are reported to
 * the master); each block is checked against its committed CRC32C (a corrupt copy is reported
 * to the master, which drops it, and the block is read from its next copy; with none left the
 * key is a miss); each block goes to the sink; the lease is renewed while a long get goes on
 * and released at the end ({@link LeaseRenewal}); a lease that expired anyway fails the get,
 * since the bytes may have been reused.
 *
 * <p>With an {@link EngineTier} (the engine's GPU tier), a put lands each new block there first
 * and writes the bytes copied back down from it; a get serves each leased block whose copy
 * there has the committed length and CRC32C without a transfer, reads the others from the
 * store, and offers those for promotion. The lease is taken for every key all the same: it is
 * what says that the block is still committed, and it holds the DRAM copy while the get runs.
 *
 * <p>Thread-safe if the staging buffers of concurrent calls differ.
 */
public final class StoreClient implements AutoCloseable {
    /** Extends a lease ({@link MasterClient#renew}). */
    @FunctionalInterface
    interface Renewal {
        /** @return false when the lease had expired already */
        boolean renew(long leaseId, long ttlMillis);
    }

    private final MasterApi master;
    private final Renewal renewal;
    private final StoreCore core;
    private final long leaseMillis;
    private final int replicas;
    private final String preferredSegment;
    private final EngineTier tier;

    /** One replica per block, no preferred segment. */
    public StoreClient(MasterClient master, TransferEngine engine, long leaseMillis) {
        this(master, engine, leaseMillis, 1, null);
    }

    /**
     * @param leaseMillis      lease TTL taken by gets, ms (Mooncake's default is 10 s)
     * @param replicas         copies written per block, on different nodes
     * @param preferredSegment segment for the first copy when it has room (this process's own
     *                         store node), or null
     */
    public StoreClient(MasterClient master, TransferEngine engine, long leaseMillis, int replicas,
                       String preferredSegment) {
        this(master, master::renew, engine, leaseMillis, replicas, preferredSegment, null);
    }

    /**
     * @param tier the engine's own tier in front of the store (its GPU tier), or null for none;
     *             not owned
     */
    public StoreClient(MasterClient master, TransferEngine engine, long leaseMillis, int replicas,
                       String preferredSegment, EngineTier tier) {
        this(master, master::renew, engine, leaseMillis, replicas, preferredSegment, tier);
    }

    /** Over any master: a remote one, or one in this process (with the lease renewal it offers). */
    StoreClient(MasterApi master, Renewal renewal, TransferEngine engine, long leaseMillis, int replicas,
                String preferredSegment) {
        this(master, renewal, engine, leaseMillis, replicas, preferredSegment, null);
    }

    private StoreClient(MasterApi master, Renewal renewal, TransferEngine engine, long leaseMillis, int replicas,
                        String preferredSegment, EngineTier tier) {
        if (replicas < 1) {
            throw new IllegalArgumentException("replicas must be at least 1, not " + replicas);
        }
        this.master = master;
        this.renewal = renewal;
        this.core = new StoreCore(master, engine, leaseMillis);
        this.leaseMillis = leaseMillis;
        this.replicas = replicas;
        this.preferredSegment = preferredSegment;
        this.tier = tier;
    }

    /** How many leading keys are in the store; touches them. */
    public int lookupPrefix(BlockKey[] keys) {
        return master.lookupPrefix(keys);
    }

    /** Whether each key is in the store; touches nothing. */
    public boolean[] exists(BlockKey[] keys) {
        return master.exists(keys);
    }

    /**
     * Removes blocks.
     *
     * @return per key: {@link dev.ferry.store.master.Master#REMOVED}, {@code NOT_FOUND} (unknown or
     *         still being written) or {@code LEASED} (being read: kept)
     */
    public byte[] remove(BlockKey[] keys) {
        return master.remove(keys);
    }

    /**
     * Writes the blocks of {@code keys} that are not in the store yet.
     *
     * @param blockBytes bytes of each block
     * @param staging    local memory holding at least one block; its size sets the window
     * @throws LengthConflictException when a key is in the store with another length (nothing is written)
     * @throws StoreException          when there is no room, or a transfer fails (nothing uncommitted stays visible)
     */
    public PutResult put(BlockKey[] keys, long blockBytes, MemorySegment staging, BlockSource source) {
        int window = window(staging, blockBytes);
        java.util.concurrent.atomic.LongAdder landNanos = new java.util.concurrent.atomic.LongAdder();
        long[] lengths = new long[keys.length];
        Arrays.fill(lengths, blockBytes);
        StoreCore.PutOutcome out = core.put(keys, lengths, replicas, preferredSegment, window,
                (index, slot, copies, batch) -> {
                    MemorySegment block = staging.asSlice(slot * blockBytes, blockBytes);
                    source.fill(keys[index], block);
                    int crc = BlockContent.crc32c(block);
                    if (tier != null) {
                        long landStart = System.nanoTime();
                        tier.land(keys[index], block, crc);
                        landNanos.add(System.nanoTime() - landStart);
                    }
                    for (Placement p : copies) {
                        batch.add(TransferRequest.write(staging, slot * blockBytes, p.segment(), p.offset(), blockBytes));
                    }
                    return crc;
                });
        int written = out.written();
        return new PutResult(written, keys.length - written, written * blockBytes, out.transferNanos(), landNanos.sum());
    }

    /**
     * Reads every block of {@code keys} and hands each to {@code sink}, in key order.
     *
     * @throws StoreException when a key is not in the store (or no copy of it is intact), no
     *                        replica of a block can be read, or the lease expired
     */
    public GetResult get(BlockKey[] keys, long blockBytes, MemorySegment staging, BlockSink sink) {
        int window = window(staging, blockBytes);
        StoreCore.HeldLease held = core.lease(keys);
        Lease lease = held.lease;
        long nanos = 0;
        long bytes = 0;
        long gpuNanos = 0;
        long promoteNanos = 0;
        java.util.List<BlockKey> fromStore = null;
        int gpuBlocks = 0;
        int ssdBlocks = 0;
        boolean released = false;
        try {
            for (int i = 0; i < keys.length; i++) {
                if (lease.replicas().get(i).isEmpty()) {
                    if (tier != null) {
                        tier.forget(keys[i]);
                    }
                    throw new StoreException("block key " + keys[i] + " is not in the store"
                            + (master.exists(new BlockKey[] {keys[i]})[0]
                            ? " in DRAM, and no DRAM can be freed to load it from SSD now (every block is being read)"
                            : ""));
                }
                if (lease.replicas().get(i).getFirst().length() > blockBytes) {
                    throw new StoreException("block key " + keys[i] + " holds " + lease.replicas().get(i).getFirst()
                            .length() + " bytes, more than the " + blockBytes + " asked for");
                }
            }
            Replica[] chosen = new Replica[window];
            MemorySegment[] dest = new MemorySegment[window];
            boolean[] local = new boolean[window];
            BlockKey[] windowKeys = new BlockKey[window];
            long[] lengths = new long[window];
            int[] crcs = new int[window];
            BlockKey[] promotedKeys = new BlockKey[window];
            fromStore = new java.util.ArrayList<>();
            MemorySegment[] promotedBytes = new MemorySegment[window];
            int[] promotedCrcs = new int[window];
            Set<String> failed = new HashSet<>();
            for (int done = 0; done < keys.length; done += window) {
                int n = Math.min(window, keys.length - done);
                for (int i = 0; i < n; i++) {
                    dest[i] = staging.asSlice(i * blockBytes, blockBytes);
                    Replica committed = lease.replicas().get(done + i).getFirst();
                    // A copy on SSD only was given a DRAM range to be loaded into with the lease: the
                    // store read loads it, so that the master's promotion completes (the GPU copy is refreshed).
                    windowKeys[i] = committed.needsLoad() ? null : keys[done + i];
                    lengths[i] = committed.length();
                    crcs[i] = committed.crc32c();
                }
                if (tier != null) {
                    long gpuStart = System.nanoTime();
                    gpuBlocks += tier.readAll(windowKeys, lengths, crcs, dest, local, n);
                    gpuNanos += System.nanoTime() - gpuStart;
                    for (int i = 0; i < n; i++) {
                        if (local[i]) {
                            dest[i] = null; // served: the store read skips it
                        }
                    }
                }
                long start = System.nanoTime();
                core.read(held, done, n, dest, null, chosen, failed);
                nanos += System.nanoTime() - start;
                for (int i = 0; i < n; i++) {
                    if (local[i]) {
                        chosen[i] = lease.replicas().get(done + i).getFirst();
                    } else if (chosen[i] == null) {
                        throw new StoreException("block key " + keys[done + i] + " is not in the store: the copies "
                                + "left failed their CRC32C check and were dropped");
                    }
                }
                int promotions = 0;
                for (int i = 0; i < n; i++) {
                    Replica r = chosen[i];
                    if (!local[i]) {
                        bytes += r.length();
                        ssdBlocks += r.needsLoad() ? 1 : 0;
                        fromStore.add(r.key());
                        promotedKeys[promotions] = r.key();
                        promotedBytes[promotions] = staging.asSlice(i * blockBytes, r.length());
                        promotedCrcs[promotions++] = r.crc32c();
                    }
                }
                if (tier != null && promotions > 0) {
                    long promoteStart = System.nanoTime();
                    tier.promoteAll(promotedKeys, promotedBytes, promotedCrcs, promotions);
                    promoteNanos += System.nanoTime() - promoteStart;
                }
                for (int i = 0; i < n; i++) {
                    Replica r = chosen[i];
                    sink.accept(r.key(), staging.asSlice(i * blockBytes, r.length()), r.crc32c());
                }
                if (!LeaseRenewal.stillHolds(held.askedAt, System.nanoTime(), leaseMillis)
                        && done + n < keys.length) {
                    long renewAt = System.nanoTime();
                    if (!renewal.renew(lease.id(), leaseMillis)) {
                        throw new StoreException("lease " + lease.id() + " expired during a get of " + keys.length
                                + " blocks: bytes discarded");
                    }
                    held.askedAt = renewAt;
                }
            }
            released = true;
            if (!core.release(held)) {
                throw new StoreException("lease " + lease.id() + " expired during the read of " + Arrays.toString(
                        Arrays.copyOf(keys, Math.min(keys.length, 4))) + "...: bytes discarded");
            }
        } catch (RuntimeException e) {
            throw e instanceof StoreException se ? se : new StoreException("get failed: " + e.getMessage(), e);
        } finally { // errors too: the lease must go back
            if (!released) {
                core.releaseAfterFailure(held);
            }
        }
        // After the lease went back, untimed: where else the blocks read from the store were, for the report.
        int elsewhere = tier == null || fromStore.isEmpty() ? 0 : tier.heldInOtherGpuTiers(fromStore.toArray(BlockKey[]::new));
        return new GetResult(keys.length, bytes, nanos, gpuBlocks, ssdBlocks, gpuNanos, promoteNanos, elsewhere);
    }

    /**
     * Copies whose bytes did not match their committed CRC32C when read, since start: each
     * was reported to the master and dropped, and never handed to a sink.
     */
    public long corruptCopies() {
        return core.corruptCopies();
    }

    /** Closes the connections to store nodes opened for promotions. */
    @Override
    public void close() {
        core.close();
    }

    private static int window(MemorySegment staging, long blockBytes) {
        long window = staging.byteSize() / blockBytes;
        if (window < 1) {
            throw new IllegalArgumentException("staging buffer of " + staging.byteSize()
                    + " bytes cannot hold one block of " + blockBytes + " bytes");
        }
        return (int) Math.min(window, 1024);
    }
}
