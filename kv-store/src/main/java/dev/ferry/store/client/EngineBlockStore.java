package dev.ferry.store.client;

import dev.ferry.store.gpu.EngineTier;
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
    private final EngineTier tier;

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
        this(master, engine, leaseMillis, replicas, preferredSegment, stagingBytes, lanes, null);
    }

    /**
     * @param tier the engine's GPU tier in front of the store (owned from now on; each staging
     *             buffer is registered with it), or null for none
     */
    public EngineBlockStore(MasterClient master, TransferEngine engine, long leaseMillis, int replicas,
                            String preferredSegment, long stagingBytes, int lanes, EngineTier tier) {
        this.master = master;
        this.engine = engine;
        this.tier = tier;
        this.store = new StoreClient(master, engine, leaseMillis, replicas, preferredSegment, tier);
        List<Slab> buffers = new ArrayList<>(lanes);
        boolean done = false;
        try {
            for (int i = 0; i < lanes; i++) {
                buffers.add(Slab.allocate(stagingBytes));
                if (tier != null) {
                    tier.registerStaging(buffers.getLast().memory());
                }
            }
            done = true;
        } finally {
            if (!done) { // the caller closes what it gave; the buffers are this constructor's
                buffers.forEach(Slab::close);
            }
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
    public dev.ferry.transfer.metrics.MappingPopulation mappingPopulation() {
        return engine.mappingPopulation();
    }

    @Override
    public void close() {
        store.close();
        engine.close();
        try {
            if (tier != null) {
                tier.close(); // before the master (a reported tier tells it), and before the staging buffers it unregisters
            }
        } finally {
            try {
                master.close();
            } finally {
                staging.close();
            }
        }
    }
}
