package dev.ferry.decode;

import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.engine.EngineOptions;
import dev.ferry.store.rpc.RpcServer;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A decode node as a process. */
@Command(name = "ferry-decode", mixinStandardHelpOptions = true, description = "Runs a Ferry decode node.")
public final class DecodeMain implements Callable<Integer> {
    @Mixin
    EngineOptions options;

    @Option(names = "--memory-gbps", defaultValue = "3350", description = "Accelerator memory bandwidth, GB/s (H100 SXM: 3350).")
    double memoryGBps;

    @Option(names = "--concurrency", defaultValue = "2", description = "Requests pulled at once.")
    int concurrency;

    @Override
    public Integer call() {
        options.tls.install();
        var io = options.io.install();
        String warmUp = options.warmUp.run();
        var profile = options.profile();
        DecodeNode node = new DecodeNode(options.blockStore(concurrency, 1), profile, memoryGBps);
        ExecutorService executor = Executors.newFixedThreadPool(concurrency, r -> new Thread(r, "ferry-decode"));
        RpcServer server;
        try {
            server = new RpcServer(options.listen.host(), options.listen.port(), node::handle, executor);
        } catch (RuntimeException e) {
            ProcessSupport.closeQuietly(node, executor::shutdownNow);
            throw e;
        }
        ProcessSupport.announceReady("role=decode port=" + server.port() + " io=" + io.used().flag() + " " + warmUp);
        ProcessSupport.runUntilStopped(node, executor::shutdownNow, server);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new DecodeMain(), args));
    }
}
