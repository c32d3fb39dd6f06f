package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import java.util.List;

/**
 * The master's calls a store client makes, whether the master is another process
 * ({@link MasterClient}, over RPC) or in this one ({@link InProcessMaster}, a direct call:
 * a sidecar that embeds its master saves a loopback round trip per call). Every method
 * means what the {@link Master} method of the same name does.
 *
 * <p>Implementations are thread-safe. Errors: {@link dev.ferry.store.rpc.RpcException} with
 * the master's status (NO_SPACE, REFUSED), or UNAVAILABLE / TIMEOUT for a remote master.
 */
public interface MasterApi {
    /** @see Master#lookupPrefix */
    int lookupPrefix(BlockKey[] keys);

    /** @see Master#exists */
    boolean[] exists(BlockKey[] keys);

    /** @see Master#remove */
    byte[] remove(BlockKey[] keys);

    /** @see Master#removeAll */
    long removeAll(boolean force);

    /** @see Master#pin */
    int pin(BlockKey[] keys, boolean hard, long ttlMillis);

    /**
     * Allocates as {@link Master#putStart(BlockKey[], long, int, String)} does, waiting out the
     * master's write stall ({@link WriteStall}): the calling thread may block up to
     * {@link WriteStall#LIMIT_NANOS} while a full DRAM is being demoted to SSD.
     */
    List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment);

    /**
     * {@link #putStart(BlockKey[], long, int, String)} recording the string key of each new
     * block ({@link Master#putStart(BlockKey[], long, int, String, String[])}); an
     * implementation that cannot record them puts the blocks without their names.
     */
    default List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment,
                                     String[] names) {
        return putStart(keys, blockBytes, replicas, preferredSegment);
    }

    /**
     * @see Master#removeByRegex
     * Errors as for every call of this interface: REFUSED when the pattern does not compile,
     * or when the master does not record string keys (an earlier build).
     */
    long removeByRegex(String pattern, boolean force);

    /**
     * Commits as {@link Master#putCommit} does and returns once the nodes holding the blocks
     * have them in their indexes (at most {@link Master#INDEX_ACK_TIMEOUT_MILLIS} later).
     */
    void putCommit(BlockKey[] keys, int[] crcs);

    /**
     * Commits from the process that runs store node {@code nodeId} (a sidecar): as
     * {@link #putCommit(BlockKey[], int[])}, but the answer carries that node's pending index
     * updates after {@code ackedSeq}, and the master does not wait for that node's
     * acknowledgement ({@link Master#putCommit(BlockKey[], int[], long, String, long)}). The
     * caller must apply the updates to the node's index before it acknowledges the commit to
     * its writer. The default commits as {@link #putCommit(BlockKey[], int[])} (which waits
     * for every holding node) and returns no updates.
     *
     * @return the node's updates, oldest first; empty when the master waited for the node
     */
    default List<IndexUpdate> putCommit(BlockKey[] keys, int[] crcs, String nodeId, long ackedSeq) {
        putCommit(keys, crcs);
        return List.of();
    }

    /**
     * Grants node {@code nodeId} {@code bytes} of its own segment ahead of its puts
     * ({@link Master#grant}). The default grants nothing.
     *
     * @return {@code {offset, bytes}}, or null when nothing was granted (no free range that
     *         large, not the node's segment, or a master that does not grant: an earlier build)
     */
    default long[] grant(String nodeId, String segment, long bytes) {
        return null;
    }

    /**
     * Commits blocks node {@code nodeId} wrote in its granted ranges ({@link Master#putGranted});
     * the caller must apply the returned updates to the node's index before it acknowledges
     * the put to its writer. Only called after {@link #grant} granted something.
     *
     * @param names per key its string key or null; null for none
     * @throws UnsupportedOperationException from an implementation that does not grant
     */
    default GrantedPut putGranted(String nodeId, String segment, BlockKey[] keys, String[] names, long[] offsets,
                                  long[] lengths, int[] crcs, long ackedSeq) {
        throw new UnsupportedOperationException("this master grants no space ahead of puts");
    }

    /**
     * Gives back granted ranges ({@link Master#returnGranted}); the default does nothing.
     *
     * @param ranges each {@code {offset, bytes}}
     * @return bytes freed
     */
    default long returnGranted(String nodeId, String segment, List<long[]> ranges) {
        return 0;
    }

    /**
     * What {@link #putGranted} answers.
     *
     * @param results per key {@link Master#GRANTED_STORED}, {@link Master#GRANTED_EXISTED},
     *                {@link Master#NOT_GRANTED}, {@link Master#GRANTED_LENGTH_CONFLICT} or
     *                {@link Master#GRANTED_SKIPPED}
     * @param updates the node's pending index updates, oldest first
     */
    record GrantedPut(byte[] results, List<IndexUpdate> updates) {
    }

    /** @see Master#putAbort */
    void putAbort(BlockKey[] keys);

    /** @see Master#get */
    Lease get(BlockKey[] keys, long ttlMillis);

    /** @see Master#release */
    boolean release(long leaseId);

    /**
     * Releases a lease without waiting for the outcome, for a reader that knows it cannot
     * have expired; if the release is lost, the lease runs out. Never throws.
     */
    void releaseLater(long leaseId);

    /**
     * Reports that {@code segment} could not be reached; the master probes its node.
     *
     * @return whether the segment is gone (its node declared dead, or already unknown)
     */
    boolean suspect(String segment);

    /** @see Master#dropCorrupt */
    boolean dropCorrupt(BlockKey key, String segment, long offset, int crc32c);
}
