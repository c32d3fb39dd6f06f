package dev.ferry.decode;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.GetResult;
import dev.ferry.store.client.BlockStore;
import dev.ferry.store.handoff.DecodeProtocol;
import dev.ferry.store.handoff.DecodeProtocol.DecodeRequest;
import dev.ferry.store.handoff.DecodeProtocol.DecodeResult;
import dev.ferry.store.handoff.TrafficProtocol;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.rpc.RpcException;
import io.netty.buffer.ByteBuf;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The decode side: for each request handed over by prefill, pulls every KV block into its
 * own memory (through its transfer engine, or through a sidecar on this host: a
 * {@link BlockStore}), verifies each block's CRC32C and every byte (block contents derive
 * from the key, {@link BlockContent}), and models decoding.
 *
 * <p>Decoding is memory-bound: a step reads the weights and the context's KV cache once,
 * so its time is {@link ModelProfile#decodeStepBytes} over the accelerator's memory
 * bandwidth. TBT is that step at the mid-point of the output; the first step is part of TTFT.
 *
 * <p>Thread-safe: requests are served concurrently, as many at once as the store has lanes
 * (staging buffers).
 */
public final class DecodeNode implements AutoCloseable {
    private final BlockStore store;
    private final ModelProfile profile;
    private final double memoryBytesPerNano;
    private final LongAdder verifyFailures = new LongAdder();
    private final AtomicInteger served = new AtomicInteger();

    /**
     * @param store      the store (owned from now on); its lanes are the requests served at once
     * @param profile    model profile
     * @param memoryGBps accelerator memory bandwidth, GB/s (H100 SXM: 3,350)
     */
    public DecodeNode(BlockStore store, ModelProfile profile, double memoryGBps) {
        this.store = store;
        this.profile = profile;
        this.memoryBytesPerNano = memoryGBps;
    }

    /** Pulls, verifies and models one request. */
    public DecodeResult decode(DecodeRequest request) {
        if (request.blockBytes() != profile.blockBytes()) {
            throw new RpcException(RpcException.REFUSED, "request has blocks of " + request.blockBytes()
                    + " bytes, this decode node serves " + profile.name() + " (" + profile.blockBytes() + " bytes)");
        }
        int[] failures = new int[1];
        GetResult got = store.get(request.keys(), request.blockBytes(), (key, bytes, crc) -> {
            if (!verify(key, bytes, crc)) {
                failures[0]++;
            }
        });
        verifyFailures.add(failures[0]);
        served.incrementAndGet();
        long context = request.inputTokens() + request.outputTokens() / 2;
        long tbt = (long) (profile.decodeStepBytes(context) / memoryBytesPerNano);
        long first = (long) (profile.decodeStepBytes(request.inputTokens()) / memoryBytesPerNano);
        return new DecodeResult(got.blocks(), got.bytes(), got.transferNanos() + got.gpuNanos() + got.promoteNanos(),
                failures[0], tbt, first, got.gpuBlocks(), got.ssdBlocks(), got.gpuNanos(), got.promoteNanos(),
                got.elsewhereGpuBlocks());
    }

    /** Whether the block's CRC32C and every byte match what its key says. */
    static boolean verify(BlockKey key, MemorySegment bytes, int expectedCrc) {
        return BlockContent.crc32c(bytes) == expectedCrc && BlockContent.firstMismatch(key, bytes) < 0;
    }

    /** RPC entry point ({@link DecodeProtocol}, and {@link TrafficProtocol} for this node's engine). */
    public void handle(int method, ByteBuf in, ByteBuf out) {
        if (method == TrafficProtocol.TRAFFIC) {
            TrafficProtocol.write(out, store.traffic());
            return;
        }
        if (method == TrafficProtocol.MAPPINGS) {
            TrafficProtocol.write(out, store.mappingPopulation());
            return;
        }
        if (method == DecodeProtocol.LEGACY_DECODE) {
            throw new RpcException(RpcException.REFUSED, "decode protocol mismatch: DECODE with 8-byte block keys comes "
                    + "from an earlier build; this decode node takes 16-byte keys: run every Ferry process from one build");
        }
        if (method != DecodeProtocol.DECODE) {
            throw new RpcException(RpcException.REFUSED, "unknown decode method " + method);
        }
        try {
            decode(DecodeRequest.read(in)).write(out);
        } catch (dev.ferry.store.client.StoreException e) {
            if (Thread.currentThread().isInterrupted()) {
                throw new RpcException(RpcException.UNAVAILABLE, "decode node is shutting down");
            }
            throw new RpcException(RpcException.CONFLICT, e.getMessage());
        }
    }

    /** Blocks that failed verification since start. */
    public long verifyFailures() {
        return verifyFailures.sum();
    }

    /** Requests served since start. */
    public int served() {
        return served.get();
    }

    @Override
    public void close() {
        store.close();
    }
}
