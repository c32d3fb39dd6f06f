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
 * @param writeNanos     WRITE transfers (measured)
 * @param readNanos      READ transfers (measured)
 * @param ttftNanos      time to first token: queue + compute + transfers + first decode step
 * @param tbtNanos       time between tokens (modeled)
 * @param verifyFailures blocks that failed verification
 * @param error          why it failed, or null
 */
public record RequestResult(int index, long arrivalNanos, int blocks, int hitBlocks, long bytesWritten,
                            long bytesRead, long queueNanos, long computeNanos, long writeNanos, long readNanos,
                            long ttftNanos, long tbtNanos, int verifyFailures, String error) {
    /** Whether the request failed; {@link #error()} then says why. */
    public boolean failed() {
        return error != null;
    }
}
