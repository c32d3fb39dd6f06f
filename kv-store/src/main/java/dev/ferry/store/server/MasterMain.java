package dev.ferry.store.server;

import dev.ferry.store.cli.ListenOptions;
import dev.ferry.store.cli.MetricsOptions;
import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.master.MasterRole;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.metrics.HealthServer;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
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

    @Mixin
    MetricsOptions metrics;

    @Override
    public Integer call() {
        MasterService service = new MasterService(listen.host(), listen.port(), EvictionPolicy.byName(policy), nodeTimeoutMillis);
        // This master's role for /metrics and /ready; leader election supplies the live one here.
        Supplier<MasterRole> role = () -> MasterRole.SOLE;
        HealthServer http = null;
        boolean serving = false;
        try {
            if (metrics.enabled()) {
                http = MetricsServers.master(metrics.host(listen.host()), metrics.port(), service.master(), role);
            }
            serving = true;
        } finally {
            if (!serving) {
                service.close();
            }
        }
        ProcessSupport.announceReady("role=master port=" + service.port() + (http != null ? " metrics=" + http.port() : ""));
        ProcessSupport.runUntilStopped(service, http);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new MasterMain(), args));
    }
}
