package dev.ferry.store.engine;

import dev.ferry.nativemem.device.DeviceChoice;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.cli.ListenOptions;
import dev.ferry.store.rpc.RpcException;
import org.slf4j.LoggerFactory;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.cli.SizeOrZeroConverter;
import dev.ferry.store.client.ReportedGpuTier;
import dev.ferry.store.gpu.GpuBlockCache;
import dev.ferry.store.cli.MasterOptions;
import dev.ferry.store.client.BlockStore;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.client.EngineBlockStore;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.sidecar.SidecarBlockStore;
import dev.ferry.transfer.TransferEngine;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The command-line options that prefill and decode nodes share (a picocli mixin): how they
 * reach the store (a master and their own transfer engine, or a sidecar on this host), the
 * model profile, the RPC address, and how the transfer engine reaches the store nodes. Not
 * thread-safe; read once at start.
 */
public final class EngineOptions {
    @Mixin
    MasterOptions master;

    @Option(names = "--sidecar", description = "Reach the store through the sidecar on this Unix socket (block "
            + "bytes through shared memory) instead of a master and an own transfer engine.")
    Path sidecar;

    @Option(names = "--model", defaultValue = "qwen2.5-0.5b", description = "Model profile (default ${DEFAULT-VALUE}).")
    String model;

    /** Where this node serves its RPC: {@code --host}, {@code --port}. */
    @Mixin
    public ListenOptions listen;

    /** TLS of this process's ports and connections: install it first ({@link TlsOptions#install()}). */
    @Mixin
    public dev.ferry.store.cli.TlsOptions tls;

    /** The I/O backend of this process's TCP transport: install it first ({@link dev.ferry.store.cli.IoOptions#install()}). */
    @Mixin
    public dev.ferry.store.cli.IoOptions io;

    /** The warm-up pass at start: run it before {@link #blockStore} ({@link dev.ferry.store.cli.WarmUpOption#run()}). */
    @Mixin
    public dev.ferry.store.cli.WarmUpOption warmUp;

    @Option(names = "--window-blocks", defaultValue = "8", description = "Blocks per transfer batch.")
    public int windowBlocks;

    @Option(names = "--shared-memory", description = "Reach store nodes of this host through shared memory "
            + "instead of TCP.")
    boolean sharedMemory;

    @Option(names = "--aeron", description = "Reach store nodes that serve Aeron over Aeron UDP first.")
    boolean aeron;

    @Option(names = "--links", defaultValue = "2", description = "TCP links per store node.")
    int links;

    @Option(names = "--stall-timeout-ms", paramLabel = "MS", defaultValue = "2000", description = "A link with "
            + "slices outstanding and no progress for this long is cut and its slices resent on another "
            + "(default ${DEFAULT-VALUE}; at least 4).")
    long stallTimeoutMillis;

    @Option(names = "--gpu-capacity", paramLabel = "SIZE", converter = SizeOrZeroConverter.class,
            description = "GPU tier of this engine in front of the store, e.g. 512MiB; 0 or absent for none. New blocks land there first and are copied down to DRAM; blocks read from "
                    + "the store are promoted there; a block held there is read without a transfer.")
    long gpuCapacity;

    @Option(names = "--gpu-memory", paramLabel = "host|cuda|auto", defaultValue = "auto",
            converter = DeviceChoiceConverter.class, description = "Memory of the GPU tier: cuda, host (host memory "
            + "standing in for a GPU) or auto (CUDA when present, else host) (default ${DEFAULT-VALUE}).")
    DeviceChoice gpuMemory;

    @Option(names = "--gpu-index", paramLabel = "FILE", description = "Local index of the GPU tier's blocks: a "
            + "restarted node reads from it which blocks its GPU tier lost with the previous process and tells the "
            + "master. Default: none.")
    Path gpuIndex;

    /** @throws IllegalArgumentException for an unknown profile */
    public ModelProfile profile() {
        return ModelProfile.byName(model);
    }

    /**
     * The store, with {@code lanes} staging buffers of {@code --window-blocks} blocks each:
     * through the sidecar when {@code --sidecar} is given, else over the master and a transfer
     * engine of this process (10 s leases, 10 s master timeout, {@code --master-reconnect-ms}
     * to wait for a master that went away).
     *
     * @param replicas copies a put writes per block (the sidecar writes one)
     * With {@code --gpu-capacity}, the store client has the engine's GPU tier in front of the
     * store ({@link GpuBlockCache} on the memory {@code --gpu-memory} picks).
     *
     * @throws IllegalArgumentException when neither or both of --master and --sidecar are
     *                                  given, replicas other than 1 go through a sidecar, or a
     *                                  GPU tier is asked for with --sidecar
     * @throws dev.ferry.nativemem.device.DeviceException when the GPU tier's memory cannot be opened
     */
    public BlockStore blockStore(int lanes, int replicas) {
        if ((master.address() == null) == (sidecar == null)) {
            throw new IllegalArgumentException("give exactly one of --master and --sidecar");
        }
        long stagingBytes = (long) windowBlocks * profile().blockBytes();
        if (gpuIndex != null && gpuCapacity == 0) {
            throw new IllegalArgumentException("--gpu-index needs --gpu-capacity");
        }
        if (gpuCapacity < 0) {
            throw new IllegalArgumentException("--gpu-capacity must be 0 (none) or a size, was " + gpuCapacity);
        }
        if (sidecar != null) {
            if (gpuCapacity > 0) {
                throw new IllegalArgumentException("--gpu-capacity needs --master: through a sidecar the engine's "
                        + "GPU tier is the engine's own (the sidecar serves DRAM and SSD)");
            }
            if (replicas != 1) {
                throw new IllegalArgumentException("a sidecar writes one copy per block: --replicas " + replicas
                        + " needs --master");
            }
            return SidecarBlockStore.connect(sidecar, stagingBytes, lanes);
        }
        MasterClient client = new MasterClient(MasterAddress.parse(master.address(), master.clusterId()), 10_000,
                master.reconnectMillis());
        TransferEngine engine = null;
        GpuBlockCache gpu = null;
        try {
            engine = new TransferEngine(new TransferEngine.Context().bindHost(listen.host()).linksPerPeer(links)
                    .stallTimeoutMillis(stallTimeoutMillis).sharedMemory(sharedMemory).aeron(aeron).resolver(client));
            gpu = gpuCapacity > 0 ? GpuBlockCache.open(gpuMemory, gpuCapacity, gpuIndex) : null;
            if (gpu != null) {
                LoggerFactory.getLogger(EngineOptions.class).info("GPU tier: {} bytes on {}; {} (measured)",
                        gpuCapacity, gpu.memory().describe(), gpu.batching().describe());
            }
            if (gpu != null && !gpu.lostAtStart().isEmpty()) {
                reportLost(client, gpu);
            }
            ReportedGpuTier tier = gpu == null ? null : new ReportedGpuTier(gpu, client, engineName(),
                    GPU_REPORT_INTERVAL_MILLIS);
            gpu = null; // the reported tier owns it
            try {
                return new EngineBlockStore(client, engine, 10_000, replicas, null, stagingBytes, lanes, tier);
            } catch (RuntimeException | Error e) {
                ProcessSupport.closeQuietly(tier);
                throw e;
            }
        } catch (RuntimeException | Error e) {
            ProcessSupport.closeQuietly(gpu, engine, client);
            throw e;
        }
    }

    /** Tells the master which blocks the GPU tier lost with the previous process, and logs it. */
    private void reportLost(MasterClient client, GpuBlockCache gpu) {
        var lost = gpu.lostAtStart();
        String engine = engineName();
        String inStore;
        try {
            inStore = client.gpuCopiesLost(engine, lost.toArray(BlockKey[]::new)) + " of them still in the store";
        } catch (RpcException e) {
            inStore = "the master was not told: " + e.getMessage();
        }
        LoggerFactory.getLogger(EngineOptions.class).info("GPU tier: {} blocks lost with the previous process "
                + "(index {}); {}", lost.size(), gpuIndex, inStore);
    }

    /**
     * This engine's name at the master for its GPU tier: the listen address and the GPU tier's
     * index file (stable across restarts, so a restart's {@code GPU_LOST} drops what the previous
     * process reported), or the process id without an index.
     */
    String engineName() {
        return listen.host() + ":" + listen.port() + " " + (gpuIndex != null ? gpuIndex.toString()
                : "pid " + ProcessHandle.current().pid());
    }

    /** Between the GPU tier's reports to the master, ms: well under the master's node timeout. */
    static final long GPU_REPORT_INTERVAL_MILLIS = 500;

    /** Parses {@code --gpu-memory}. */
    static final class DeviceChoiceConverter implements picocli.CommandLine.ITypeConverter<DeviceChoice> {
        @Override
        public DeviceChoice convert(String value) {
            return DeviceChoice.parse(value);
        }
    }

    /** The GPU tier's size asked for, bytes; 0 for none. */
    public long gpuCapacity() {
        return gpuCapacity;
    }
}
