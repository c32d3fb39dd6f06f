package dev.ferry.prefill;

import dev.ferry.store.rpc.Wire;
import io.netty.buffer.ByteBuf;

/**
 * How a driver (a trace replay, an inference engine's scheduler) submits requests to a
 * prefill node. Method 1 SUBMIT: request id (i32), input tokens (i32), output tokens
 * (i32), keys (long[]); answer: the fields of {@link PrefillResult} in order, the error
 * as a string (empty when the request succeeded). A prefill node also answers
 * {@link dev.ferry.store.handoff.TrafficProtocol#TRAFFIC}.
 */
public final class PrefillProtocol {
    public static final int SUBMIT = 1;

    private PrefillProtocol() {
    }

    /**
     * @param requestId    request index
     * @param inputTokens  prompt tokens
     * @param outputTokens tokens to generate
     * @param keys         block keys of the prompt, in order (one per {@code blockTokens})
     */
    public record PrefillRequest(int requestId, int inputTokens, int outputTokens, long[] keys) {
        public void write(ByteBuf b) {
            b.writeInt(requestId).writeInt(inputTokens).writeInt(outputTokens);
            Wire.writeLongs(b, keys);
        }

        public static PrefillRequest read(ByteBuf b) {
            return new PrefillRequest(Wire.readInt(b), Wire.readInt(b), Wire.readInt(b), Wire.readLongs(b));
        }
    }

    /**
     * The outcome of one request, prefill and decode together. Times in ns.
     *
     * @param hitBlocks      leading blocks found in the store
     * @param writtenBlocks  blocks written by this request
     * @param bytesWritten   bytes written
     * @param queueNanos     wait before prefill started (measured)
     * @param computeNanos   prefill compute of the uncached tokens (modeled)
     * @param writeNanos     WRITE transfers, and landing in prefill's GPU tier with the copy down (measured)
     * @param readBlocks     blocks decode pulled
     * @param bytesRead      bytes decode pulled
     * @param readNanos      READ transfers, copies out of decode's GPU tier, promotions into it (measured)
     * @param verifyFailures blocks that failed verification at decode
     * @param tbtNanos       time between tokens (modeled)
     * @param firstStepNanos first decode step (modeled)
     * @param error          why the request failed, or empty
     * @param gpuReadBlocks  of {@code readBlocks}, those decode's own GPU tier served (no transfer)
     * @param ssdReadBlocks  of {@code readBlocks}, those read from a store node's SSD tier
     * @param gpuReadNanos   of {@code readNanos}, the time copying blocks out of decode's GPU tier
     * @param gpuWriteNanos  of {@code writeNanos}, the time landing blocks in prefill's GPU tier and copying them down
     * @param promoteNanos   of {@code readNanos}, the time promoting blocks read from the store into decode's GPU tier
     * @param elsewhereGpuBlocks of the blocks decode read from the store, those prefill's GPU tier (or
     *                       another engine's) held, as the master knew it: a locality hint
     */
    public record PrefillResult(int hitBlocks, int writtenBlocks, long bytesWritten, long queueNanos, long computeNanos,
                                long writeNanos, int readBlocks, long bytesRead, long readNanos, int verifyFailures,
                                long tbtNanos, long firstStepNanos, String error, int gpuReadBlocks,
                                int ssdReadBlocks, long gpuReadNanos, long gpuWriteNanos, long promoteNanos,
                                int elsewhereGpuBlocks) {
        /** A result without tier counts (a failure before decode). */
        public PrefillResult(int hitBlocks, int writtenBlocks, long bytesWritten, long queueNanos, long computeNanos,
                             long writeNanos, int readBlocks, long bytesRead, long readNanos, int verifyFailures,
                             long tbtNanos, long firstStepNanos, String error) {
            this(hitBlocks, writtenBlocks, bytesWritten, queueNanos, computeNanos, writeNanos, readBlocks, bytesRead,
                    readNanos, verifyFailures, tbtNanos, firstStepNanos, error, 0, 0, 0, 0, 0, 0);
        }

        /** TTFT: queueing + modeled compute + measured transfers + modeled first decode step, ns. */
        public long ttftNanos() {
            return queueNanos + computeNanos + writeNanos + readNanos + firstStepNanos;
        }

        public boolean failed() {
            return !error.isEmpty();
        }

        public void write(ByteBuf b) {
            b.writeInt(hitBlocks).writeInt(writtenBlocks).writeLong(bytesWritten).writeLong(queueNanos)
                    .writeLong(computeNanos).writeLong(writeNanos).writeInt(readBlocks).writeLong(bytesRead)
                    .writeLong(readNanos).writeInt(verifyFailures).writeLong(tbtNanos).writeLong(firstStepNanos);
            Wire.writeString(b, error);
            b.writeInt(gpuReadBlocks).writeInt(ssdReadBlocks).writeLong(gpuReadNanos).writeLong(gpuWriteNanos)
                    .writeLong(promoteNanos).writeInt(elsewhereGpuBlocks);
        }

        public static PrefillResult read(ByteBuf b) {
            return new PrefillResult(Wire.readInt(b), Wire.readInt(b), Wire.readLong(b), Wire.readLong(b),
                    Wire.readLong(b), Wire.readLong(b), Wire.readInt(b), Wire.readLong(b), Wire.readLong(b),
                    Wire.readInt(b), Wire.readLong(b), Wire.readLong(b), Wire.readString(b), Wire.readInt(b),
                    Wire.readInt(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readInt(b));
        }
    }
}
