package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;

/**
 * The store as prefill and decode nodes use it: how many leading blocks of a request are
 * stored, put the missing blocks, get a request's blocks. Two implementations, so that the
 * nodes have one code path whichever way they reach the store: {@link EngineBlockStore}
 * (a master connection and this process's own transfer engine) and
 * {@link dev.ferry.store.sidecar.SidecarBlockStore} (a sidecar on this host over its Unix
 * socket, block bytes through shared memory: the path inference engines take).
 *
 * <p>Each implementation owns its staging memory: a put fills blocks there and a get hands
 * them to the sink from there, a window of blocks at a time.
 *
 * <p>Thread-safe: as many calls run at once as the implementation has lanes (staging
 * buffers); more wait for a free one. Owns connections and memory: close it.
 */
public interface BlockStore extends AutoCloseable {
    /** How many leading keys are stored blocks; touches them (most recently used). */
    int lookupPrefix(BlockKey[] keys);

    /**
     * Writes the blocks of {@code keys} that are not in the store yet, each filled by
     * {@code source}, and publishes them; a block is visible to readers only once committed.
     *
     * @param blockBytes bytes of each block
     * @throws StoreException when there is no room or a transfer fails (nothing half-written
     *                        becomes visible)
     */
    PutResult put(BlockKey[] keys, long blockBytes, BlockSource source);

    /**
     * Reads every block of {@code keys}, each checked against its committed CRC32C, and hands
     * each to {@code sink} in key order.
     *
     * @param blockBytes bytes of each block (at most)
     * @throws StoreException when a key is not in the store, a transfer fails or a CRC differs
     */
    GetResult get(BlockKey[] keys, long blockBytes, BlockSink sink);

    /**
     * What this process's transfer engine carried so far, per link (see
     * {@link dev.ferry.transfer.TransferEngine#traffic()}); empty when another process's
     * engine moves the bytes (a sidecar's). Any thread, at any time.
     */
    java.util.List<dev.ferry.transfer.metrics.LinkTraffic> traffic();

    /**
     * How far this process's transfer engine has populated its mappings of store nodes' slabs
     * (see {@link dev.ferry.transfer.TransferEngine#mappingPopulation()}); nothing when another
     * process's engine moves the bytes (a sidecar's). Any thread, at any time.
     */
    default dev.ferry.transfer.metrics.MappingPopulation mappingPopulation() {
        return dev.ferry.transfer.metrics.MappingPopulation.NONE;
    }

    /** Closes connections and frees the staging memory. */
    @Override
    void close();
}
