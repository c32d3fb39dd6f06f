package dev.ferry.store.client;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterClient;
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

/**
 * The store as prefill and decode nodes use it: prefix lookup, put and get of KV blocks.
 * Metadata goes to the master; bytes go through the transfer engine in batches, through a
 * staging buffer of the caller's, a window of blocks at a time.
 *
 * <p>Put: allocate all keys (each on {@code replicas} nodes, the preferred segment first),
 * then per window fill once, WRITE every replica as one batch, commit; on a failure the
 * uncommitted keys are aborted so nothing half-written becomes visible. Get: lease all keys,
 * READ per window from each key's first replica not known to have failed, check each block
 * against its committed CRC32C (a corrupt copy is reported to the master, which drops it, and
 * the block is read from its next copy; with none left the key is a miss), hand each block
 * to the sink, release (without waiting when less than half the TTL has passed: the lease
 * cannot have expired); when a replica's node cannot be reached the window is read again
 * from the other replicas. The lease is renewed while a long get goes on; a lease that
 * expired anyway fails the get, since the bytes may have been reused.
 *
 * <p>When a transfer fails, the target segments are reported to the master, which probes
 * their nodes and drops the dead ones at once (instead of after missed heartbeats); a put
 * then places the rest of its blocks on the nodes still alive, once.
 *
 * <p>Thread-safe if the staging buffers of concurrent calls differ.
 */
public final class StoreClient implements AutoCloseable {
    private final MasterClient master;
    private final TransferEngine engine;
    private final long leaseMillis;
    private final int replicas;
    private final String preferredSegment;
    private final ReplicaLoader loader = new ReplicaLoader();
    private final java.util.concurrent.atomic.LongAdder corruptCopies = new java.util.concurrent.atomic.LongAdder();

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
        if (replicas < 1) {
            throw new IllegalArgumentException("replicas must be at least 1, not " + replicas);
        }
        this.master = master;
        this.engine = engine;
        this.leaseMillis = leaseMillis;
        this.replicas = replicas;
        this.preferredSegment = preferredSegment;
    }

    /** How many leading keys are in the store; touches them. */
    public int lookupPrefix(long[] keys) {
        return master.lookupPrefix(keys);
    }

    /** Whether each key is in the store; touches nothing. */
    public boolean[] exists(long[] keys) {
        return master.exists(keys);
    }

    /**
     * Removes blocks.
     *
     * @return per key: {@link dev.ferry.store.master.Master#REMOVED}, {@code NOT_FOUND} (unknown or
     *         still being written) or {@code LEASED} (being read: kept)
     */
    public byte[] remove(long[] keys) {
        return master.remove(keys);
    }

    /**
     * Writes the blocks of {@code keys} that are not in the store yet.
     *
     * @param blockBytes bytes of each block
     * @param staging    local memory holding at least one block; its size sets the window
     * @throws StoreException when there is no room, or a transfer fails (nothing uncommitted stays visible)
     */
    public PutResult put(long[] keys, long blockBytes, MemorySegment staging, BlockSource source) {
        return put(keys, blockBytes, staging, source, true);
    }

    private PutResult put(long[] keys, long blockBytes, MemorySegment staging, BlockSource source, boolean retry) {
        int window = window(staging, blockBytes);
        List<Placement> placements;
        try {
            placements = master.putStart(keys, blockBytes, replicas, preferredSegment);
        } catch (RpcException e) {
            throw new StoreException("put of " + keys.length + " blocks refused: " + e.getMessage(), e);
        }
        Map<Long, List<Placement>> byKey = new LinkedHashMap<>();
        int existed = 0;
        for (Placement p : placements) {
            if (p.exists()) {
                existed++;
            } else {
                byKey.computeIfAbsent(p.key(), k -> new ArrayList<>(replicas)).add(p);
            }
        }
        List<List<Placement>> toWrite = new ArrayList<>(byKey.values());
        long nanos = 0;
        int done = 0;
        try {
            while (done < toWrite.size()) {
                int n = Math.min(window, toWrite.size() - done);
                long[] batchKeys = new long[n];
                int[] crcs = new int[n];
                List<TransferRequest> batch = new ArrayList<>(n * replicas);
                for (int i = 0; i < n; i++) {
                    List<Placement> copies = toWrite.get(done + i);
                    long key = copies.getFirst().key();
                    MemorySegment slot = staging.asSlice(i * blockBytes, blockBytes);
                    source.fill(key, slot);
                    batchKeys[i] = key;
                    crcs[i] = BlockContent.crc32c(slot);
                    for (Placement p : copies) {
                        batch.add(TransferRequest.write(staging, i * blockBytes, p.segment(), p.offset(), blockBytes));
                    }
                }
                long start = System.nanoTime();
                await(batch);
                nanos += System.nanoTime() - start;
                master.putCommit(batchKeys, crcs);
                done += n;
            }
        } catch (RuntimeException e) {
            long[] rest = toWrite.subList(done, toWrite.size()).stream().mapToLong(c -> c.getFirst().key()).toArray();
            abort(rest);
            if (retry && e instanceof UnreachableSegments u && u.gone) {
                // The master dropped the dead node: the rest goes to the nodes still alive.
                PutResult again = put(rest, blockBytes, staging, source, false);
                return new PutResult(done + again.written(), existed + again.existed(),
                        (done + again.written()) * blockBytes, nanos + again.transferNanos());
            }
            throw new StoreException("put failed after " + done + " of " + toWrite.size() + " blocks: "
                    + e.getMessage(), e);
        }
        return new PutResult(toWrite.size(), existed, (long) toWrite.size() * blockBytes, nanos);
    }

    /**
     * Runs a batch; when requests fail, reports their segments to the master (which probes
     * their nodes) and throws {@link UnreachableSegments}.
     */
    private void await(List<TransferRequest> batch) {
        BatchHandle handle;
        try {
            handle = engine.submit(batch);
        } catch (RuntimeException e) {
            Set<String> segments = new HashSet<>();
            batch.forEach(r -> segments.add(r.targetSegment()));
            throw unreachable(segments, e);
        }
        try {
            handle.completion().join();
        } catch (RuntimeException e) {
            Set<String> segments = new HashSet<>();
            for (int i = 0; i < batch.size(); i++) {
                if (handle.requests().get(i).isCompletedExceptionally()) {
                    segments.add(batch.get(i).targetSegment());
                }
            }
            throw unreachable(segments, e);
        }
    }

    private UnreachableSegments unreachable(Set<String> segments, RuntimeException cause) {
        boolean gone = false;
        for (String segment : segments) {
            try {
                gone |= master.suspect(segment);
            } catch (RpcException ignored) {
                // the master is unreachable too: report the transfer failure itself
            }
        }
        Throwable root = cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null
                ? cause.getCause() : cause;
        return new UnreachableSegments(root.getMessage(), gone, segments, root);
    }

    /** A batch failed; {@code gone} says whether the master declared a target node dead. */
    private static final class UnreachableSegments extends RuntimeException {
        final boolean gone;
        final Set<String> segments;

        UnreachableSegments(String message, boolean gone, Set<String> segments, Throwable cause) {
            super(message, cause);
            this.gone = gone;
            this.segments = segments;
        }
    }

    private void abort(long[] keys) {
        try {
            master.putAbort(keys);
        } catch (RpcException ignored) {
            // The master reclaims uncommitted puts after its put timeout anyway.
        }
    }

    /**
     * Reads every block of {@code keys} and hands each to {@code sink}, in key order.
     *
     * @throws StoreException when a key is not in the store (or no copy of it is intact), no
     *                        replica of a block can be read, or the lease expired
     */
    public GetResult get(long[] keys, long blockBytes, MemorySegment staging, BlockSink sink) {
        int window = window(staging, blockBytes);
        // Taken before each request for the lease, so never later than the master's grant.
        long leasedAt = System.nanoTime();
        Lease lease;
        try {
            lease = master.get(keys, leaseMillis);
        } catch (RpcException e) {
            throw new StoreException("get of " + keys.length + " blocks refused: " + e.getMessage(), e);
        }
        long nanos = 0;
        long bytes = 0;
        Set<String> failed = new HashSet<>();
        try {
            for (int i = 0; i < keys.length; i++) {
                if (lease.replicas().get(i).isEmpty()) {
                    throw new StoreException("block key " + keys[i] + " is not in the store"
                            + (master.exists(new long[] {keys[i]})[0]
                            ? " in DRAM, and no DRAM can be freed to load it from SSD now (every block is being read)"
                            : ""));
                }
            }
            Replica[] chosen = new Replica[window];
            for (int done = 0; done < keys.length; done += window) {
                int n = Math.min(window, keys.length - done);
                long start = System.nanoTime();
                readWindow(lease, done, n, blockBytes, staging, chosen, failed);
                nanos += System.nanoTime() - start;
                for (int i = 0; i < n; i++) {
                    Replica r = chosen[i];
                    sink.accept(r.key(), staging.asSlice(i * blockBytes, r.length()), r.crc32c());
                    bytes += r.length();
                }
                if (System.nanoTime() - leasedAt > leaseMillis * 500_000L && done + n < keys.length) {
                    long renewAt = System.nanoTime();
                    if (!master.renew(lease.id(), leaseMillis)) {
                        throw new StoreException("lease " + lease.id() + " expired during a get of " + keys.length
                                + " blocks: bytes discarded");
                    }
                    leasedAt = renewAt;
                }
            }
        } catch (RuntimeException e) {
            release(lease);
            throw e instanceof StoreException se ? se : new StoreException("get failed: " + e.getMessage(), e);
        }
        if (System.nanoTime() - leasedAt < leaseMillis * 500_000L) {
            // Granted (or renewed) after leasedAt, so it cannot have expired: no need to wait.
            master.releaseLater(lease.id());
        } else if (!release(lease)) {
            throw new StoreException("lease " + lease.id() + " expired during the read of " + Arrays.toString(
                    Arrays.copyOf(keys, Math.min(keys.length, 4))) + "...: bytes discarded");
        }
        return new GetResult(keys.length, bytes, nanos);
    }

    /**
     * Reads blocks {@code [from, from + n)} of the lease, falling back to other replicas when
     * a node cannot be reached, and checks each block against its CRC32C: a corrupt copy is
     * reported (the master drops it), counted, and the block read again from its next copy.
     *
     * @throws StoreException when no replica of a block can be read, or none is intact (a miss)
     */
    private void readWindow(Lease lease, int from, int n, long blockBytes, MemorySegment staging, Replica[] chosen,
                            Set<String> failed) {
        Set<Replica> corrupt = new HashSet<>();
        boolean[] pending = new boolean[n];
        Arrays.fill(pending, true);
        while (true) {
            List<TransferRequest> batch = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                if (!pending[i]) {
                    continue;
                }
                Replica r = firstLive(lease.replicas().get(from + i), failed, corrupt);
                if (r.length() > blockBytes) {
                    throw new StoreException("block key " + r.key() + " holds " + r.length()
                            + " bytes, more than the " + blockBytes + " asked for");
                }
                chosen[i] = r;
                batch.add(TransferRequest.read(staging, i * blockBytes, r.segment(), r.offset(), r.length()));
            }
            try {
                load(chosen, n, pending);
                await(batch);
            } catch (UnreachableSegments e) {
                failed.addAll(e.segments);
                for (int i = 0; i < n; i++) {
                    if (pending[i] && liveCount(lease.replicas().get(from + i), failed, corrupt) == 0) {
                        throw new StoreException("no replica of block key " + chosen[i].key() + " could be read: "
                                + e.getMessage(), e);
                    }
                }
                continue;
            }
            boolean again = false;
            for (int i = 0; i < n; i++) {
                if (!pending[i]) {
                    continue;
                }
                Replica r = chosen[i];
                if (BlockContent.crc32c(staging.asSlice(i * blockBytes, r.length())) == r.crc32c()) {
                    pending[i] = false;
                    continue;
                }
                corruptCopies.increment();
                CorruptCopies.report(master, r);
                corrupt.add(r);
                if (liveCount(lease.replicas().get(from + i), failed, corrupt) == 0) {
                    throw new StoreException("block key " + r.key() + " is not in the store: the copies left "
                            + "failed their CRC32C check and were dropped");
                }
                again = true;
            }
            if (!again) {
                return;
            }
        }
    }

    /**
     * Copies whose bytes did not match their committed CRC32C when read, since start: each
     * was reported to the master and dropped, and never handed to a sink.
     */
    public long corruptCopies() {
        return corruptCopies.sum();
    }

    /**
     * Asks the nodes of SSD-resident replicas to load them into the DRAM ranges the master
     * gave them (the promotion); a node that refuses or cannot be reached makes that replica
     * unreachable, like a failed transfer.
     */
    private void load(Replica[] chosen, int n, boolean[] pending) {
        for (int i = 0; i < n; i++) {
            Replica r = chosen[i];
            if (!pending[i] || !r.needsLoad()) {
                continue;
            }
            try {
                loader.load(r);
            } catch (RpcException e) {
                throw new UnreachableSegments("loading block key " + r.key() + " from SSD at " + r.loadEndpoint()
                        + " failed: " + e.getMessage(), false, Set.of(r.segment()), e);
            }
        }
    }

    /** Closes the connections to store nodes opened for promotions. */
    @Override
    public void close() {
        loader.close();
    }

    private static Replica firstLive(List<Replica> replicas, Set<String> failed, Set<Replica> corrupt) {
        for (Replica r : replicas) {
            if (!failed.contains(r.segment()) && !corrupt.contains(r)) {
                return r;
            }
        }
        throw new StoreException("no replica of block key " + replicas.getFirst().key() + " is reachable");
    }

    private static int liveCount(List<Replica> replicas, Set<String> failed, Set<Replica> corrupt) {
        int n = 0;
        for (Replica r : replicas) {
            if (!failed.contains(r.segment()) && !corrupt.contains(r)) {
                n++;
            }
        }
        return n;
    }

    private boolean release(Lease lease) {
        try {
            return master.release(lease.id());
        } catch (RpcException e) {
            return false;
        }
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
