package dev.ferry.prefill;

import dev.ferry.store.client.StoreClient;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.node.NodeCommandLine;
import dev.ferry.store.node.ProcessSupport;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcServer;
import dev.ferry.transfer.TransferEngine;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** A prefill node as a process. */
@Command(name = "ferry-prefill", mixinStandardHelpOptions = true, description = "Runs a Ferry prefill node.")
public final class PrefillMain implements Callable<Integer> {
    @Option(names = "--master", required = true, description = "Master RPC address, host:port.")
    String master;

    @Option(names = "--decode", required = true, description = "Decode node RPC address, host:port.")
    String decode;

    @Option(names = "--model", defaultValue = "qwen2.5-0.5b", description = "Model profile (default ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "0", description = "RPC port; 0 picks a free one.")
    int port;

    @Option(names = "--tflops", defaultValue = "400", description = "Sustained prefill TFLOP/s of the modeled accelerator.")
    double teraflops;

    @Option(names = "--window-blocks", defaultValue = "8", description = "Blocks per WRITE batch.")
    int windowBlocks;

    @Option(names = "--shared-memory", description = "Reach store nodes of this host through shared memory "
            + "instead of TCP.")
    boolean sharedMemory;

    @Option(names = "--links", defaultValue = "2", description = "TCP links per store node.")
    int links;

    @Override
    public Integer call() {
        ModelProfile profile = ModelProfile.byName(model);
        HostPort m = HostPort.parse(master);
        HostPort d = HostPort.parse(decode);
        MasterClient masterClient = new MasterClient(m.host(), m.port(), 10_000);
        TransferEngine engine = new TransferEngine(new TransferEngine.Context().bindHost(host).linksPerPeer(links)
                .sharedMemory(sharedMemory).resolver(masterClient));
        RpcClient decodeClient = new RpcClient(d.host(), d.port(), 120_000);
        PrefillNode node = new PrefillNode(new StoreClient(masterClient, engine, 10_000), decodeClient, profile,
                teraflops, windowBlocks);
        ExecutorService executor = Executors.newCachedThreadPool(r -> new Thread(r, "ferry-prefill"));
        RpcServer server;
        try {
            server = new RpcServer(host, port, node::handle, executor);
        } catch (RuntimeException e) {
            ProcessSupport.closeQuietly(masterClient, engine, decodeClient, node, executor::shutdownNow);
            throw e;
        }
        ProcessSupport.announceReady("role=prefill port=" + server.port());
        ProcessSupport.runUntilStopped(true, masterClient, engine, decodeClient, node, executor::shutdownNow, server);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new PrefillMain(), args));
    }
}
