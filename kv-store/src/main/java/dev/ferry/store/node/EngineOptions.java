package dev.ferry.store.node;

import dev.ferry.store.master.MasterClient;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.transfer.TransferEngine;
import picocli.CommandLine.Option;

/**
 * The command-line options that prefill and decode nodes share (a picocli mixin): where the
 * master is, the model profile, the RPC address, and how the transfer engine reaches the
 * store nodes. Not thread-safe; read once at start.
 */
public final class EngineOptions {
    @Option(names = "--master", required = true, description = "Master RPC address, host:port.")
    String master;

    @Option(names = "--model", defaultValue = "qwen2.5-0.5b", description = "Model profile (default ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default ${DEFAULT-VALUE}).")
    public String host;

    @Option(names = "--port", defaultValue = "0", description = "RPC port; 0 picks a free one.")
    public int port;

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

    /** A client of the master (10 s timeout). */
    public MasterClient masterClient() {
        HostPort m = HostPort.parse(master);
        return new MasterClient(m.host(), m.port(), 10_000);
    }

    /** A transfer engine that resolves segments through {@code master}. */
    public TransferEngine engine(MasterClient master) {
        return new TransferEngine(new TransferEngine.Context().bindHost(host).linksPerPeer(links)
                .sharedMemory(sharedMemory).aeron(aeron).resolver(master));
    }
}
