package dev.ferry.store.engine;

import dev.ferry.store.cli.ListenOptions;
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

    @Option(names = "--window-blocks", defaultValue = "8", description = "Blocks per transfer batch.")
    public int windowBlocks;

    @Option(names = "--shared-memory", description = "Reach store nodes of this host through shared memory "
            + "instead of TCP.")
    boolean sharedMemory;

    @Option(names = "--aeron", description = "Reach store nodes that serve Aeron over Aeron UDP first.")
    boolean aeron;

    @Option(names = "--links", defaultValue = "2", description = "TCP links per store node.")
    int links;

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
     * @throws IllegalArgumentException when neither or both of --master and --sidecar are
     *                                  given, or replicas other than 1 go through a sidecar
     */
    public BlockStore blockStore(int lanes, int replicas) {
        if ((master.address() == null) == (sidecar == null)) {
            throw new IllegalArgumentException("give exactly one of --master and --sidecar");
        }
        long stagingBytes = (long) windowBlocks * profile().blockBytes();
        if (sidecar != null) {
            if (replicas != 1) {
                throw new IllegalArgumentException("a sidecar writes one copy per block: --replicas " + replicas
                        + " needs --master");
            }
            return SidecarBlockStore.connect(sidecar, stagingBytes, lanes);
        }
        MasterClient client = new MasterClient(MasterAddress.parse(master.address(), master.clusterId()), 10_000,
                master.reconnectMillis());
        TransferEngine engine;
        try {
            engine = new TransferEngine(new TransferEngine.Context().bindHost(listen.host()).linksPerPeer(links)
                    .sharedMemory(sharedMemory).aeron(aeron).resolver(client));
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
        return new EngineBlockStore(client, engine, 10_000, replicas, null, stagingBytes, lanes);
    }
}
