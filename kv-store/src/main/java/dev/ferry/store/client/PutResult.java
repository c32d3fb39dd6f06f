package dev.ferry.store.client;

/**
 * @param written       blocks written and committed by this put
 * @param existed       blocks already in the store (nothing written)
 * @param bytes         bytes moved by the transfer engine
 * @param transferNanos time spent in WRITE transfers, ns
 * @param gpuNanos      time spent landing new blocks in the engine's GPU tier and copying them back
 *                      down ({@link dev.ferry.store.gpu.EngineTier#land}), ns; 0 without one
 */
public record PutResult(int written, int existed, long bytes, long transferNanos, long gpuNanos) {
    /** A put without a GPU tier. */
    public PutResult(int written, int existed, long bytes, long transferNanos) {
        this(written, existed, bytes, transferNanos, 0);
    }
}
