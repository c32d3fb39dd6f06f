package dev.ferry.prefill;

import dev.ferry.store.block.BlockKey;
import dev.ferry.prefill.PrefillProtocol.PrefillRequest;
import dev.ferry.prefill.PrefillProtocol.PrefillResult;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.PutResult;
import dev.ferry.store.client.BlockStore;
import dev.ferry.store.handoff.DecodeProtocol;
import dev.ferry.store.handoff.DecodeProtocol.DecodeRequest;
import dev.ferry.store.handoff.DecodeProtocol.DecodeResult;
import dev.ferry.store.handoff.TrafficProtocol;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcException;
import io.netty.buffer.ByteBuf;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The prefill side: for each request, asks the store for its cached prefix, "computes" the
 * missing KV blocks (contents derived from the key; compute time modeled as
 * {@link ModelProfile#prefillFlops} over the accelerator's FLOP/s, not slept), writes them
 * into the store a window at a time, commits them, and hands the request to decode. The
 * store is a {@link BlockStore}: this process's own transfer engine, or a sidecar on this
 * host reached over its Unix socket (the path an inference engine takes).
 *
 * <p>One prefill runs at a time (one accelerator): requests wait their turn in arrival
 * order, and that wait is the measured queueing. The hand-off to decode runs outside that
 * turn, so decode of one request overlaps prefill of the next.
 *
 * <p>Thread-safe.
 */
public final class PrefillNode implements AutoCloseable {
    private final BlockStore store;
    private final RpcClient decode;
    private final ModelProfile profile;
    private final double flopsPerNano;
    private final ReentrantLock accelerator = new ReentrantLock(true);

    /**
     * @param store     the store (owned from now on; one lane is enough: one prefill runs at a time)
     * @param decode    RPC client of the decode node
     * @param profile   model profile
     * @param teraflops sustained accelerator throughput for prefill, TFLOP/s
     */
    public PrefillNode(BlockStore store, RpcClient decode, ModelProfile profile, double teraflops) {
        this.store = store;
        this.decode = decode;
        this.profile = profile;
        this.flopsPerNano = teraflops * 1e3;
    }

    /** Prefills one request and hands it to decode; failures come back in the result's error. */
    public PrefillResult submit(PrefillRequest request) {
        long received = System.nanoTime();
        BlockKey[] keys = BlockKey.ofAll(request.keys()); // trace keys are 64-bit
        int hits;
        long queue;
        long compute;
        PutResult put;
        accelerator.lock();
        try {
            queue = System.nanoTime() - received;
            hits = store.lookupPrefix(keys);
            long uncached = Math.max(1, request.inputTokens() - (long) hits * profile.blockTokens());
            compute = (long) (profile.prefillFlops(uncached) / flopsPerNano);
            put = store.put(Arrays.copyOfRange(keys, hits, keys.length), profile.blockBytes(), BlockContent::fill);
        } catch (RuntimeException e) {
            return failed(0, "prefill: " + e.getMessage());
        } finally {
            accelerator.unlock();
        }
        DecodeRequest handoff = new DecodeRequest(request.requestId(), request.inputTokens(), request.outputTokens(),
                profile.blockBytes(), keys);
        DecodeResult d;
        try {
            d = decode.call(DecodeProtocol.DECODE, handoff::write, DecodeResult::read);
        } catch (RpcException e) {
            return new PrefillResult(hits, put.written(), put.bytes(), queue, compute,
                    put.transferNanos() + put.gpuNanos(), 0, 0, 0, 0, 0, 0, "decode: " + e.getMessage());
        }
        // The GPU tier's copies count in TTFT: landing and copying down in the write time, promotion in the read time.
        return new PrefillResult(hits, put.written(), put.bytes(), queue, compute, put.transferNanos() + put.gpuNanos(),
                d.blocks(), d.bytes(), d.readNanos(), d.verifyFailures(), d.tbtNanos(), d.firstStepNanos(), "",
                d.gpuBlocks(), d.ssdBlocks(), d.gpuNanos(), put.gpuNanos(), d.promoteNanos(), d.elsewhereGpuBlocks());
    }

    private static PrefillResult failed(int hits, String error) {
        return new PrefillResult(hits, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, error);
    }

    /** RPC entry point ({@link PrefillProtocol}, and {@link TrafficProtocol} for this node's engine). */
    public void handle(int method, ByteBuf in, ByteBuf out) {
        if (method == TrafficProtocol.TRAFFIC) {
            TrafficProtocol.write(out, store.traffic());
            return;
        }
        if (method == TrafficProtocol.MAPPINGS) {
            TrafficProtocol.write(out, store.mappingPopulation());
            return;
        }
        if (method != PrefillProtocol.SUBMIT) {
            throw new RpcException(RpcException.REFUSED, "unknown prefill method " + method);
        }
        PrefillRequest request = PrefillRequest.read(in);
        if (request.keys().length == 0) {
            throw new RpcException(RpcException.REFUSED, "request " + request.requestId() + " has no block keys");
        }
        submit(request).write(out);
    }

    @Override
    public void close() {
        store.close();
    }
}
