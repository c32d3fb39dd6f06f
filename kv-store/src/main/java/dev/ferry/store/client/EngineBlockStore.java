package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.master.MasterClient;
import dev.ferry.transfer.TransferEngine;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link BlockStore} over a master connection and this process's own transfer engine
 * ({@link StoreClient}), with staging buffers of its own (anonymous memory, one per lane).
 *
 * <p>Thread-safe (up to {@code lanes} calls at once). Owns the master client, the engine
 * and the staging buffers: close it.
 */
public final class EngineBlockStore implements BlockStore {
    private final MasterClient master;
    private final TransferEngine engine;
    private final StoreClient store;
    private final Lanes<Slab> staging;

    /**
     * @param master           master connection (owned from now on)
     * @param engine           transfer engine resolving segments through {@code master} (owned)
     * @param leaseMillis      lease TTL of gets, ms
     * @param replicas         copies a put writes per block, on different nodes
     * @param preferredSegment segment of a put's first copy when it has room, or null
     * @param stagingBytes     bytes of each staging buffer (sets the window: blocks per batch)
     * @param lanes            staging buffers: calls that may run at once
     */
    public EngineBlockStore(MasterClient master, TransferEngine engine, long leaseMillis, int replicas,
                            String preferredSegment, long stagingBytes, int lanes) {
        this.master = master;
        this.engine = engine;
        this.store = new StoreClient(master, engine, leaseMillis, replicas, preferredSegment);
        List<Slab> buffers = new ArrayList<>(lanes);
        for (int i = 0; i < lanes; i++) {
            buffers.add(Slab.allocate(stagingBytes));
        }
        this.staging = new Lanes<>(buffers);
    }

    @Override
    public int lookupPrefix(BlockKey[] keys) {
        return store.lookupPrefix(keys);
    }

    @Override
    public PutResult put(BlockKey[] keys, long blockBytes, BlockSource source) {
        return staging.with(buffer -> store.put(keys, blockBytes, buffer.memory(), source));
    }

    @Override
    public GetResult get(BlockKey[] keys, long blockBytes, BlockSink sink) {
        return staging.with(buffer -> store.get(keys, blockBytes, buffer.memory(), sink));
    }

    @Override
    public List<dev.ferry.transfer.metrics.LinkTraffic> traffic() {
        return engine.traffic();
    }

    @Override
    public void close() {
        store.close();
        engine.close();
        master.close();
        staging.close();
    }
}
