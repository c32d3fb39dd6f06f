package dev.ferry.cluster.report;

/**
 * The outcome of one replayed request, one row of the report files. Times in ns; arrival is
 * relative to the replay start; bytes are bytes. Immutable; thread-safe.
 *
 * @param index          request index in the trace
 * @param arrivalNanos   when it was submitted
 * @param blocks         prompt blocks
 * @param hitBlocks      leading blocks found in the store
 * @param bytesWritten   bytes prefill wrote
 * @param bytesRead      bytes decode read
 * @param queueNanos     wait before prefill started (measured)
 * @param computeNanos   prefill compute (modeled)
 * @param writeNanos     WRITE transfers, with landing in prefill's GPU tier and the copy down (measured)
 * @param readNanos      READ transfers, with copies out of and promotions into decode's GPU tier (measured)
 * @param ttftNanos      time to first token: queue + compute + transfers + first decode step
 * @param tbtNanos       time between tokens (modeled)
 * @param verifyFailures blocks that failed verification
 * @param error          why it failed, or null
 * @param gpuReadBlocks  blocks decode's own GPU tier served (no transfer)
 * @param ssdReadBlocks  blocks decode read from a store node's SSD tier; the rest came from DRAM
 * @param gpuReadNanos   of {@code readNanos}, the time copying blocks out of decode's GPU tier
 * @param gpuWriteNanos  of {@code writeNanos}, the time landing blocks in prefill's GPU tier and copying them down
 * @param promoteNanos   of {@code readNanos}, the time promoting blocks read from the store into decode's GPU tier
 * @param elsewhereGpuBlocks of the blocks decode read from the store, those prefill's GPU tier held (the master's hint)
 */
public record RequestResult(int index, long arrivalNanos, int blocks, int hitBlocks, long bytesWritten,
                            long bytesRead, long queueNanos, long computeNanos, long writeNanos, long readNanos,
                            long ttftNanos, long tbtNanos, int verifyFailures, String error, int gpuReadBlocks,
                            int ssdReadBlocks, long gpuReadNanos, long gpuWriteNanos, long promoteNanos,
                            int elsewhereGpuBlocks) {
    /** A result whose blocks all came from DRAM (no GPU tier, no SSD). */
    public RequestResult(int index, long arrivalNanos, int blocks, int hitBlocks, long bytesWritten, long bytesRead,
                         long queueNanos, long computeNanos, long writeNanos, long readNanos, long ttftNanos,
                         long tbtNanos, int verifyFailures, String error) {
        this(index, arrivalNanos, blocks, hitBlocks, bytesWritten, bytesRead, queueNanos, computeNanos, writeNanos,
                readNanos, ttftNanos, tbtNanos, verifyFailures, error, 0, 0, 0, 0, 0, 0);
    }

    /** Blocks decode read from a store node's DRAM. */
    public int dramReadBlocks() {
        return failed() ? 0 : blocks - gpuReadBlocks - ssdReadBlocks;
    }

    /**
     * The tier that served most of its blocks: {@code "gpu"} (decode's GPU tier), {@code "dram"}
     * or {@code "ssd"}; a tie goes to the slower tier. A request's new blocks come from DRAM
     * (prefill wrote them there), so only its cached prefix can be GPU hits.
     */
    public String mainTier() {
        int dram = dramReadBlocks();
        if (ssdReadBlocks >= dram && ssdReadBlocks >= gpuReadBlocks && ssdReadBlocks > 0) {
            return "ssd";
        }
        return gpuReadBlocks > dram ? "gpu" : "dram";
    }

    /** Whether the request failed; {@link #error()} then says why. */
    public boolean failed() {
        return error != null;
    }
}
