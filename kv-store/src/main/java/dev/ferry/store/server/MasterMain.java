package dev.ferry.store.server;

import dev.ferry.store.cli.ListenOptions;
import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.master.MasterService;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The master as a process: {@code ferry master}, or {@code java dev.ferry.store.server.MasterMain --port 0}. */
@Command(name = "master", mixinStandardHelpOptions = true, description = "Runs the Ferry master.")
public final class MasterMain implements Callable<Integer> {
    @Mixin
    ListenOptions listen;

    @Option(names = "--policy", defaultValue = "lru", description = "Eviction policy (default ${DEFAULT-VALUE}).")
    String policy;

    @Option(names = "--node-timeout-ms", defaultValue = "2000", description = "A node silent this long is dead, ms.")
    long nodeTimeoutMillis;

    @Override
    public Integer call() {
        MasterService service = new MasterService(listen.host(), listen.port(), EvictionPolicy.byName(policy), nodeTimeoutMillis);
        ProcessSupport.announceReady("role=master port=" + service.port());
        ProcessSupport.runUntilStopped(service);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new MasterMain(), args));
    }
}
