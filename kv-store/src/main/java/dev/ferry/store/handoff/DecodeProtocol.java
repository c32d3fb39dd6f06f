package dev.ferry.store.handoff;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.rpc.Wire;
import io.netty.buffer.ByteBuf;

/**
 * The prefill -> decode hand-off over RPC. Method 2 DECODE: request id (i32), input
 * tokens (i32), output tokens (i32), block bytes (i64), keys (i32 count, then 16 bytes
 * each, {@link BlockKey}'s form); answer: blocks
 * (i32), bytes (i64), read ns (i64), verify failures (i32), modeled TBT ns (i64), modeled
 * first decode step ns (i64). Both nodes import this from kv-store; they never import each
 * other. A decode node also answers {@link TrafficProtocol#TRAFFIC}. Method 1 was DECODE
 * with 8-byte keys (earlier builds): a decode node refuses it ({@link #LEGACY_DECODE}).
 */
public final class DecodeProtocol {
    public static final int DECODE = 2;
    /** DECODE of earlier builds (8-byte keys), refused with a version mismatch. */
    public static final int LEGACY_DECODE = 1;

    private DecodeProtocol() {
    }

    /**
     * A request handed to decode once its blocks are committed.
     *
     * @param requestId    request index
     * @param inputTokens  prompt tokens
     * @param outputTokens tokens to generate
     * @param blockBytes   bytes per KV block
     * @param keys         block keys of the whole prompt, in order
     */
    public record DecodeRequest(int requestId, int inputTokens, int outputTokens, long blockBytes, BlockKey[] keys) {
        public void write(ByteBuf b) {
            b.writeInt(requestId).writeInt(inputTokens).writeInt(outputTokens).writeLong(blockBytes);
            Wire.writeKeys(b, keys);
        }

        public static DecodeRequest read(ByteBuf b) {
            return new DecodeRequest(Wire.readInt(b), Wire.readInt(b), Wire.readInt(b), Wire.readLong(b),
                    Wire.readKeys(b));
        }
    }

    /**
     * What decode did with a request.
     *
     * @param blocks          blocks pulled
     * @param bytes           bytes pulled (by transfers: blocks served by decode's GPU tier move none)
     * @param readNanos       time in READ transfers, in copies out of decode's GPU tier and in promotions into it, ns
     * @param verifyFailures  blocks whose bytes or CRC32C did not match
     * @param tbtNanos        modeled time between tokens, ns
     * @param firstStepNanos  modeled first decode step, ns (part of TTFT)
     * @param gpuBlocks       of {@code blocks}, those served by decode's own GPU tier (no transfer)
     * @param ssdBlocks       of {@code blocks}, those read from a store node's SSD tier
     * @param gpuNanos        of {@code readNanos}, the time copying blocks out of decode's GPU tier, ns
     * @param promoteNanos    of {@code readNanos}, the time promoting blocks read from the store into
     *                        decode's GPU tier, ns
     * @param elsewhereGpuBlocks of the blocks read from the store, those prefill's (or another
     *                        engine's) GPU tier held, as the master knew it
     */
    public record DecodeResult(int blocks, long bytes, long readNanos, int verifyFailures, long tbtNanos,
                               long firstStepNanos, int gpuBlocks, int ssdBlocks, long gpuNanos, long promoteNanos,
                               int elsewhereGpuBlocks) {
        public void write(ByteBuf b) {
            b.writeInt(blocks).writeLong(bytes).writeLong(readNanos).writeInt(verifyFailures).writeLong(tbtNanos)
                    .writeLong(firstStepNanos).writeInt(gpuBlocks).writeInt(ssdBlocks).writeLong(gpuNanos)
                    .writeLong(promoteNanos).writeInt(elsewhereGpuBlocks);
        }

        public static DecodeResult read(ByteBuf b) {
            return new DecodeResult(Wire.readInt(b), Wire.readLong(b), Wire.readLong(b), Wire.readInt(b),
                    Wire.readLong(b), Wire.readLong(b), Wire.readInt(b), Wire.readInt(b), Wire.readLong(b),
                    Wire.readLong(b), Wire.readInt(b));
        }
    }
}
