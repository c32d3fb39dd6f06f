package dev.ferry.store.sidecar;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The store node inside a sidecar: a DRAM slab mapped from a file under the shared-memory
 * directory, registered with the transfer engine and the master as one segment
 * ({@code <node>/dram}), kept alive by heartbeats (registering again when the master forgot
 * it, e.g. after a master restart), like {@code StoreNodeMain} in a process of its own.
 *
 * <p>Thread-safe. Owns the slab (its file is removed on close) and a heartbeat thread.
 */
final class EmbeddedStoreNode implements AutoCloseable {
    private final String nodeId;
    private final TransferEngine engine;
    private final MasterClient master;
    private final Slab slab;
    private final SegmentDescriptor segment;
    private final ScheduledExecutorService heartbeats;
    private volatile boolean registered;

    /**
     * @param slabFile        the slab's file (created, removed on close)
     * @param bytes           slab size, bytes
     * @param heartbeatMillis heartbeat period, ms
     * @throws RuntimeException when the slab cannot be mapped or the master refuses the node
     */
    EmbeddedStoreNode(String nodeId, TransferEngine engine, MasterClient master, Path slabFile, long bytes,
                      long heartbeatMillis) {
        this.nodeId = nodeId;
        this.engine = engine;
        this.master = master;
        this.slab = Slab.mapShared(slabFile, bytes, true);
        try {
            this.segment = engine.registerSegment(nodeId + "/dram", slab);
            master.register(nodeId, segment);
        } catch (RuntimeException e) {
            slab.close();
            throw e;
        }
        registered = true;
        heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ferry-sidecar-heartbeat");
            t.setDaemon(true);
            return t;
        });
        heartbeats.scheduleWithFixedDelay(this::beat, heartbeatMillis, heartbeatMillis, TimeUnit.MILLISECONDS);
    }

    /** Whether the last heartbeat (or registration) reached the master. */
    boolean registered() {
        return registered;
    }

    /** The segment's descriptor. */
    SegmentDescriptor segment() {
        return segment;
    }

    private void beat() {
        try {
            master.heartbeat(nodeId);
            registered = true;
        } catch (RpcException e) {
            registered = false;
            if (e.status() == RpcException.REFUSED) {
                try {
                    master.register(nodeId, segment);
                    registered = true;
                } catch (RpcException ignored) {
                    // again at the next beat
                }
            }
        }
    }

    @Override
    public void close() {
        heartbeats.shutdownNow();
        engine.unregisterSegment(segment.name());
        slab.close();
    }
}
