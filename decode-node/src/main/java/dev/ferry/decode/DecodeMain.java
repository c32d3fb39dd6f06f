package dev.ferry.decode;

import dev.ferry.store.client.StoreClient;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.node.NodeCommandLine;
import dev.ferry.store.node.ProcessSupport;
import dev.ferry.store.rpc.RpcServer;
import dev.ferry.transfer.TransferEngine;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** A decode node as a process. */
@Command(name = "ferry-decode", mixinStandardHelpOptions = true, description = "Runs a Ferry decode node.")
public final class DecodeMain implements Callable<Integer> {
    @Option(names = "--master", required = true, description = "Master RPC address, host:port.")
    String master;

    @Option(names = "--model", defaultValue = "qwen2.5-0.5b", description = "Model profile (default ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "0", description = "RPC port; 0 picks a free one.")
    int port;

    @Option(names = "--memory-gbps", defaultValue = "3350", description = "Accelerator memory bandwidth, GB/s (H100 SXM: 3350).")
    double memoryGBps;

    @Option(names = "--concurrency", defaultValue = "2", description = "Requests pulled at once.")
    int concurrency;

    @Option(names = "--window-blocks", defaultValue = "8", description = "Blocks per READ batch.")
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
        MasterClient masterClient = new MasterClient(m.host(), m.port(), 10_000);
        TransferEngine engine = new TransferEngine(new TransferEngine.Context().bindHost(host).linksPerPeer(links)
                .sharedMemory(sharedMemory).resolver(masterClient));
        DecodeNode node = new DecodeNode(new StoreClient(masterClient, engine, 10_000), profile, memoryGBps,
                concurrency, windowBlocks);
        ExecutorService executor = Executors.newFixedThreadPool(concurrency, r -> new Thread(r, "ferry-decode"));
        RpcServer server;
        try {
            server = new RpcServer(host, port, node::handle, executor);
        } catch (RuntimeException e) {
            ProcessSupport.closeQuietly(masterClient, engine, node, executor::shutdownNow);
            throw e;
        }
        ProcessSupport.announceReady("role=decode port=" + server.port());
        ProcessSupport.runUntilStopped(true, masterClient, engine, node, executor::shutdownNow, server);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new DecodeMain(), args));
    }
}
