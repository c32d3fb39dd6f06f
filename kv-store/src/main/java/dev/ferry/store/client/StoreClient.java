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
import java.util.List;
import java.util.Set;

/**
 * The store as prefill and decode nodes use it: prefix lookup, put and get of KV blocks.
 * Metadata goes to the master; bytes go through the transfer engine in batches, through a
 * staging buffer of the caller's, a window of blocks at a time.
 *
 * <p>Put: allocate all keys, then per window fill, WRITE as one batch, commit; on a failure
 * the uncommitted keys are aborted so nothing half-written becomes visible. Get: lease all
 * keys, READ per window, hand each block to the sink, release; a lease that expired during
 * the read fails the get, since the bytes may have been reused.
 *
 * <p>When a transfer fails, the target segments are reported to the master, which probes
 * their nodes and drops the dead ones at once (instead of after missed heartbeats); a put
 * then places the rest of its blocks on the nodes still alive, once.
 *
 * <p>Thread-safe if the staging buffers of concurrent calls differ.
 */
public final class StoreClient {
    private final MasterClient master;
    private final TransferEngine engine;
    private final long leaseMillis;

    /** @param leaseMillis lease TTL taken by gets, ms (Mooncake's default is 10 s) */
    public StoreClient(MasterClient master, TransferEngine engine, long leaseMillis) {
        this.master = master;
        this.engine = engine;
        this.leaseMillis = leaseMillis;
    }

    /** How many leading keys are in the store; touches them. */
    public int lookupPrefix(long[] keys) {
        return master.lookupPrefix(keys);
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
            placements = master.putStart(keys, blockBytes);
        } catch (RpcException e) {
            throw new StoreException("put of " + keys.length + " blocks refused: " + e.getMessage(), e);
        }
        List<Placement> toWrite = placements.stream().filter(p -> !p.exists()).toList();
        long nanos = 0;
        int done = 0;
        try {
            while (done < toWrite.size()) {
                int n = Math.min(window, toWrite.size() - done);
                long[] batchKeys = new long[n];
                int[] crcs = new int[n];
                List<TransferRequest> batch = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    Placement p = toWrite.get(done + i);
                    MemorySegment slot = staging.asSlice(i * blockBytes, blockBytes);
                    source.fill(p.key(), slot);
                    batchKeys[i] = p.key();
                    crcs[i] = BlockContent.crc32c(slot);
                    batch.add(TransferRequest.write(staging, i * blockBytes, p.segment(), p.offset(), blockBytes));
                }
                long start = System.nanoTime();
                await(batch);
                nanos += System.nanoTime() - start;
                master.putCommit(batchKeys, crcs);
                done += n;
            }
        } catch (RuntimeException e) {
            List<Placement> rest = toWrite.subList(done, toWrite.size());
            abort(rest);
            if (retry && e instanceof UnreachableSegments u && u.gone) {
                // The master dropped the dead node: the rest goes to the nodes still alive.
                PutResult again = put(rest.stream().mapToLong(Placement::key).toArray(), blockBytes, staging, source,
                        false);
                return new PutResult(done + again.written(), placements.size() - toWrite.size() + again.existed(),
                        (done + again.written()) * blockBytes, nanos + again.transferNanos());
            }
            throw new StoreException("put failed after " + done + " of " + toWrite.size() + " blocks: "
                    + e.getMessage(), e);
        }
        return new PutResult(toWrite.size(), placements.size() - toWrite.size(), toWrite.size() * blockBytes, nanos);
    }

    /**
     * Runs a batch; when requests fail, reports their segments to the master (which probes
     * their nodes) and throws {@link UnreachableSegments}.
     */
    private void await(List<TransferRequest> batch) {
        BatchHandle handle;
        try {
            handle = engine.submit(batch);
            handle.completion().join();
        } catch (RuntimeException e) {
            Set<String> segments = new HashSet<>();
            batch.forEach(r -> segments.add(r.targetSegment()));
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
        return new UnreachableSegments(root.getMessage(), gone, root);
    }

    /** A batch failed; {@code gone} says whether the master declared a target node dead. */
    private static final class UnreachableSegments extends RuntimeException {
        final boolean gone;

        UnreachableSegments(String message, boolean gone, Throwable cause) {
            super(message, cause);
            this.gone = gone;
        }
    }

    private void abort(List<Placement> placements) {
        try {
            master.putAbort(placements.stream().mapToLong(Placement::key).toArray());
        } catch (RpcException ignored) {
            // The master reclaims uncommitted puts after its put timeout anyway.
        }
    }

    /**
     * Reads every block of {@code keys} and hands each to {@code sink}, in key order.
     *
     * @throws StoreException when a key is not in the store, a transfer fails, or the lease expired
     */
    public GetResult get(long[] keys, long blockBytes, MemorySegment staging, BlockSink sink) {
        int window = window(staging, blockBytes);
        Lease lease;
        try {
            lease = master.get(keys, leaseMillis);
        } catch (RpcException e) {
            throw new StoreException("get of " + keys.length + " blocks refused: " + e.getMessage(), e);
        }
        long nanos = 0;
        long bytes = 0;
        try {
            for (int i = 0; i < keys.length; i++) {
                if (lease.replicas().get(i) == null) {
                    throw new StoreException("block key " + keys[i] + " is not in the store");
                }
            }
            for (int done = 0; done < keys.length; done += window) {
                int n = Math.min(window, keys.length - done);
                List<TransferRequest> batch = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    Replica r = lease.replicas().get(done + i);
                    if (r.length() > blockBytes) {
                        throw new StoreException("block key " + r.key() + " holds " + r.length()
                                + " bytes, more than the " + blockBytes + " asked for");
                    }
                    batch.add(TransferRequest.read(staging, i * blockBytes, r.segment(), r.offset(), r.length()));
                }
                long start = System.nanoTime();
                await(batch);
                nanos += System.nanoTime() - start;
                for (int i = 0; i < n; i++) {
                    Replica r = lease.replicas().get(done + i);
                    sink.accept(r.key(), staging.asSlice(i * blockBytes, r.length()), r.crc32c());
                    bytes += r.length();
                }
            }
        } catch (RuntimeException e) {
            release(lease);
            throw e instanceof StoreException se ? se : new StoreException("get failed: " + e.getMessage(), e);
        }
        if (!release(lease)) {
            throw new StoreException("lease " + lease.id() + " expired during the read of " + Arrays.toString(
                    Arrays.copyOf(keys, Math.min(keys.length, 4))) + "...: bytes discarded");
        }
        return new GetResult(keys.length, bytes, nanos);
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
