package dev.ferry.store.node;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.index.BlockIndex;
import dev.ferry.store.master.IndexUpdate;
import dev.ferry.store.master.IndexedBlock;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.NodeFeatures;
import dev.ferry.store.master.NodeReport;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store node: one DRAM slab, backed by a file under {@code /dev/shm}, registered with the
 * transfer engine and the master as the segment {@code <node id>/dram}, and a heartbeat
 * that registers the node again whenever the master has forgotten it (a master restart, or
 * the node was declared dead).
 *
 * <p>With a data directory the node is persistent: the slab file ({@code dram.slab}) and a
 * {@link BlockIndex} ({@code index.cmap}) live there and outlive the process. The index
 * follows the master's commits and removals in this segment ({@link IndexUpdate}s in the
 * heartbeat answers, applied in order and acknowledged in the next heartbeat). When the
 * node starts again, after a clean stop or a SIGKILL, it checks every indexed block's
 * CRC32C against the slab, drops (and counts) the ones that do not match, and registers
 * the rest with the master, which serves them again. Blocks committed less than one
 * heartbeat before a crash may be missing from the index: they are lost, never served
 * wrong. Without a data directory the slab file is private to the process and removed on
 * close.
 *
 * <p>Thread-safe. Owns the slab, the engine, the index, a master connection and a thread:
 * close it.
 */
public final class StoreNode implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StoreNode.class);

    /**
     * @param nodeId          unique node name
     * @param master          master RPC address
     * @param capacityBytes   DRAM slab size, bytes
     * @param engine          transfer engine settings (bind host, port, Aeron, advertised addresses)
     * @param shmDir          where a non-persistent slab file lives
     * @param dataDir         directory for the persistent slab and index, or null
     * @param heartbeatMillis heartbeat period, ms
     */
    public record Config(String nodeId, HostPort master, long capacityBytes, TransferEngine.Context engine,
                         Path shmDir, Path dataDir, long heartbeatMillis) {
    }

    private final Config config;
    private final Slab slab;
    private final BlockIndex index;
    private final TransferEngine engine;
    private final MasterClient master;
    private final SegmentDescriptor segment;
    private final ScheduledExecutorService heartbeats;
    private final int recovered;
    private final int dropped;
    private long ackedSeq;

    private StoreNode(Config config, Slab slab, BlockIndex index, TransferEngine engine, MasterClient master) {
        this.config = config;
        this.slab = slab;
        this.index = index;
        this.engine = engine;
        this.master = master;
        this.segment = engine.registerSegment(config.nodeId() + "/dram", slab);
        List<IndexedBlock> kept = new ArrayList<>();
        this.dropped = verify(kept);
        this.recovered = master.register(config.nodeId(), segment, new NodeFeatures(index != null, false, ""), kept);
        this.heartbeats = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "ferry-heartbeat"));
        heartbeats.scheduleWithFixedDelay(this::beat, config.heartbeatMillis(), config.heartbeatMillis(),
                TimeUnit.MILLISECONDS);
    }

    /**
     * Maps (or finds again) the slab, opens the index, registers with the master and starts
     * the heartbeat.
     *
     * @throws UncheckedIOException when the slab or index cannot be created
     * @throws RpcException         when the master refuses or cannot be reached
     */
    public static StoreNode start(Config config) {
        Slab slab = null;
        BlockIndex index = null;
        TransferEngine engine = null;
        MasterClient master = null;
        try {
            if (config.dataDir() != null) {
                Files.createDirectories(config.dataDir());
                Path file = config.dataDir().resolve("dram.slab");
                boolean fresh = !Files.exists(file) || Files.size(file) != config.capacityBytes();
                slab = Slab.mapShared(file, config.capacityBytes(), false);
                index = BlockIndex.open(config.dataDir().resolve("index.cmap"),
                        config.capacityBytes() / OffsetAllocator.ALIGNMENT);
                if (fresh) {
                    index.clear();
                }
            } else {
                slab = Slab.mapShared(config.shmDir().resolve("ferry-" + config.nodeId() + "-"
                        + ProcessHandle.current().pid() + ".slab"), config.capacityBytes(), true);
            }
            engine = new TransferEngine(config.engine());
            master = new MasterClient(config.master().host(), config.master().port(), 5_000);
            return new StoreNode(config, slab, index, engine, master);
        } catch (IOException e) {
            ProcessSupport.closeQuietly(slab, index, engine, master);
            throw new UncheckedIOException("cannot prepare the data directory " + config.dataDir(), e);
        } catch (RuntimeException e) {
            ProcessSupport.closeQuietly(slab, index, engine, master);
            throw e;
        }
    }

    /**
     * Checks the indexed blocks against the slab; drops from the index those out of range or
     * whose bytes no longer match their CRC32C.
     *
     * @param intact receives the blocks that passed
     * @return how many were dropped
     */
    private int verify(List<IndexedBlock> intact) {
        if (index == null) {
            return 0;
        }
        int bad = 0;
        for (IndexedBlock b : index.entries()) {
            boolean inRange = b.offset() >= 0 && b.length() > 0 && b.offset() + b.length() <= slab.bytes();
            if (inRange && BlockContent.crc32c(slab.memory().asSlice(b.offset(), b.length())) == b.crc32c()) {
                intact.add(b);
            } else {
                index.remove(b.key());
                bad++;
            }
        }
        if (bad > 0) {
            LOG.warn("store node {}: {} indexed blocks no longer match their CRC32C and were dropped", config.nodeId(), bad);
        }
        return bad;
    }

    private void beat() {
        try {
            List<IndexUpdate> updates = master.heartbeat(config.nodeId(), NodeReport.ack(ackedSeq));
            for (IndexUpdate u : updates) {
                if (index != null) {
                    if (u.kind() == IndexUpdate.Kind.ADD) {
                        index.put(u.block());
                    } else {
                        index.remove(u.block().key());
                    }
                }
                ackedSeq = u.seq();
            }
        } catch (RpcException e) {
            if (e.status() == RpcException.REFUSED) {
                reregister();
            }
        } catch (RuntimeException e) {
            LOG.warn("store node {}: heartbeat failed: {}", config.nodeId(), e.toString());
        }
    }

    private void reregister() {
        try {
            List<IndexedBlock> kept = new ArrayList<>();
            verify(kept);
            int taken = master.register(config.nodeId(), segment, new NodeFeatures(index != null, false, ""), kept);
            ackedSeq = 0;
            LOG.info("store node {} registered again with the master; {} of {} kept blocks taken back", config.nodeId(),
                    taken, kept.size());
        } catch (RpcException ignored) {
            // try again at the next beat
        }
    }

    /** The segment this node serves. */
    public SegmentDescriptor segment() {
        return segment;
    }

    /** The slab file. */
    public Path slabFile() {
        return slab.file().orElseThrow();
    }

    /** Blocks found again and taken back by the master at start. */
    public int recovered() {
        return recovered;
    }

    /** Indexed blocks dropped at start because their bytes no longer matched. */
    public int dropped() {
        return dropped;
    }

    /** The node's transfer engine. */
    public TransferEngine engine() {
        return engine;
    }

    @Override
    public void close() {
        heartbeats.shutdownNow();
        try {
            heartbeats.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ProcessSupport.closeQuietly(slab, index, engine, master);
    }
}
