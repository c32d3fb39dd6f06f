package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * {@link MasterApi} as direct calls on a {@link Master} of this process (the one a
 * {@link MasterService} serves to the others): no socket, no thread hand-off. The sidecar
 * that embeds its master uses it.
 *
 * The master's refusals come out as {@link dev.ferry.store.rpc.RpcException}, as from a
 * remote master.
 *
 * <p>Thread-safe (the master is).
 */
public final class InProcessMaster implements MasterApi {
    private final Master master;
    private final Predicate<String> suspect;

    /**
     * @param master  the master
     * @param suspect probes the node of a segment a client could not reach and says whether
     *                it is gone ({@link MasterService#suspect})
     */
    public InProcessMaster(Master master, Predicate<String> suspect) {
        this.master = master;
        this.suspect = suspect;
    }

    @Override
    public int lookupPrefix(BlockKey[] keys) {
        return MasterErrors.call(() -> master.lookupPrefix(keys));
    }

    @Override
    public boolean[] exists(BlockKey[] keys) {
        return MasterErrors.call(() -> master.exists(keys));
    }

    @Override
    public byte[] remove(BlockKey[] keys) {
        return MasterErrors.call(() -> master.remove(keys));
    }

    @Override
    public int pin(BlockKey[] keys, boolean hard, long ttlMillis) {
        return MasterErrors.call(() -> master.pin(keys, hard, ttlMillis));
    }

    @Override
    public long removeAll(boolean force) {
        return MasterErrors.call(() -> master.removeAll(force));
    }

    @Override
    public List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment) {
        return WriteStall.retry(() -> MasterErrors.call(
                () -> master.putStart(keys, blockBytes, replicas, preferredSegment)));
    }

    @Override
    public List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment,
                                    String[] names) {
        return WriteStall.retry(() -> MasterErrors.call(
                () -> master.putStart(keys, blockBytes, replicas, preferredSegment, names)));
    }

    @Override
    public long[] grant(String nodeId, String segment, long bytes) {
        return MasterErrors.call(() -> master.grant(nodeId, segment, bytes));
    }

    @Override
    public GrantedPut putGranted(String nodeId, String segment, BlockKey[] keys, String[] names, long[] offsets,
                                 long[] lengths, int[] crcs, long ackedSeq) {
        Master.Granted g = MasterErrors.call(() -> master.putGranted(nodeId, segment, keys, names, offsets, lengths,
                crcs, ackedSeq));
        awaitIndexed(g.committed().fence());
        return new GrantedPut(g.results(), g.committed().updates());
    }

    @Override
    public long returnGranted(String nodeId, String segment, List<long[]> ranges) {
        return MasterErrors.call(() -> master.returnGranted(nodeId, segment, ranges));
    }

    @Override
    public long removeByRegex(String pattern, boolean force) {
        return MasterErrors.call(() -> master.removeByRegex(pattern, force));
    }

    @Override
    public void putCommit(BlockKey[] keys, int[] crcs) {
        awaitIndexed(MasterErrors.call(() -> master.putCommit(keys, crcs)));
    }

    /** Waits for the holding nodes' acknowledgement, at most {@link Master#INDEX_ACK_TIMEOUT_MILLIS}. */
    private static void awaitIndexed(CompletableFuture<Void> indexed) {
        try {
            indexed.get(Master.INDEX_ACK_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException stalled) {
            // committed all the same: a stalled node's index learns it later
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void putAbort(BlockKey[] keys) {
        MasterErrors.run(() -> master.putAbort(keys));
    }

    @Override
    public Lease get(BlockKey[] keys, long ttlMillis) {
        return MasterErrors.call(() -> master.get(keys, ttlMillis));
    }

    @Override
    public boolean release(long leaseId) {
        return MasterErrors.call(() -> master.release(leaseId));
    }

    @Override
    public void releaseLater(long leaseId) {
        MasterErrors.call(() -> master.release(leaseId)); // as cheap as a send would be
    }

    @Override
    public boolean suspect(String segment) {
        return suspect.test(segment);
    }

    @Override
    public boolean dropCorrupt(BlockKey key, String segment, long offset, int crc32c) {
        return MasterErrors.call(() -> master.dropCorrupt(key, segment, offset, crc32c));
    }
}
