package dev.ferry.prefill;

import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.client.BlockStore;
import dev.ferry.store.engine.EngineOptions;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcServer;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A prefill node as a process. */
@Command(name = "ferry-prefill", mixinStandardHelpOptions = true, description = "Runs a Ferry prefill node.")
public final class PrefillMain implements Callable<Integer> {
    @Mixin
    EngineOptions options;

    @Option(names = "--decode", required = true, description = "Decode node RPC address, host:port.")
    String decode;

    @Option(names = "--tflops", defaultValue = "400", description = "Sustained prefill TFLOP/s of the modeled accelerator.")
    double teraflops;

    @Option(names = "--replicas", defaultValue = "1", description = "Copies of each block, on different store nodes "
            + "(default ${DEFAULT-VALUE}).")
    int replicas;

    @Override
    public Integer call() {
        options.tls.install();
        var io = options.io.install();
        String warmUp = options.warmUp.run();
        var profile = options.profile();
        HostPort d = HostPort.parse(decode);
        BlockStore store = options.blockStore(1, replicas);
        RpcClient decodeClient = new RpcClient(d.host(), d.port(), 120_000);
        PrefillNode node = new PrefillNode(store, decodeClient, profile, teraflops);
        ExecutorService executor = Executors.newCachedThreadPool(r -> new Thread(r, "ferry-prefill"));
        RpcServer server;
        try {
            server = new RpcServer(options.listen.host(), options.listen.port(), node::handle, executor);
        } catch (RuntimeException e) {
            ProcessSupport.closeQuietly(decodeClient, node, executor::shutdownNow);
            throw e;
        }
        ProcessSupport.announceReady("role=prefill port=" + server.port() + " io=" + io.used().flag() + " " + warmUp);
        ProcessSupport.runUntilStopped(decodeClient, node, executor::shutdownNow, server);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new PrefillMain(), args));
    }
}
