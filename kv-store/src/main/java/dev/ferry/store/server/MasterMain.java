package dev.ferry.store.server;

import dev.ferry.store.cli.ListenOptions;
import dev.ferry.store.cli.MetricsOptions;
import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.cli.TlsOptions;
import dev.ferry.store.coord.EtcdClient;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterRole;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.metrics.HealthServer;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The master as a process: {@code ferry master}, or {@code java dev.ferry.store.server.MasterMain --port 0}.
 * With {@code --etcd} and {@code --cluster-id} it is one of several candidates that elect a
 * leader in etcd ({@link ElectedMaster}); without, the one master.
 */
@Command(name = "master", mixinStandardHelpOptions = true, description = "Runs the Ferry master.")
public final class MasterMain implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    ListenOptions listen;

    @Option(names = "--policy", defaultValue = "lru", description = "Eviction policy (default ${DEFAULT-VALUE}).")
    String policy;

    @Option(names = "--node-timeout-ms", defaultValue = "2000", description = "A node silent this long is dead, ms.")
    long nodeTimeoutMillis;

    @Option(names = "--etcd", paramLabel = "URL[,URL...]", description = "Elect a leader among the masters of "
            + "--cluster-id in this etcd (client URLs or host:port, comma separated); only the leader answers.")
    String etcd;

    @Option(names = "--cluster-id", paramLabel = "ID", description = "The cluster's name in etcd (with --etcd).")
    String clusterId;

    @Option(names = "--lease-ttl", paramLabel = "DURATION", defaultValue = "5s", description = "TTL of the "
            + "leader's etcd lease, whole seconds, e.g. 5s (default ${DEFAULT-VALUE}): a leader that cannot "
            + "renew it stops answering within this time, and a standby takes over.")
    String leaseTtl;

    @Option(names = "--advertise", paramLabel = "HOST", description = "The host clients reach this master at, "
            + "published in etcd (default: the host of --host).")
    String advertise;

    @Mixin
    MetricsOptions metrics;

    @Mixin
    TlsOptions tls;

    @Override
    public Integer call() {
        tls.install();
        EvictionPolicy evictionPolicy = EvictionPolicy.byName(policy);
        if (etcd == null) {
            if (clusterId != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--cluster-id needs --etcd");
            }
            MasterService service = new MasterService(listen.host(), listen.port(), evictionPolicy, nodeTimeoutMillis);
            HealthServer http = serveMetrics(service, service::master, () -> MasterRole.SOLE);
            ProcessSupport.announceReady("role=master port=" + service.port() + metricsPort(http));
            ProcessSupport.runUntilStopped(service, http);
            return 0;
        }
        if (clusterId == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--etcd needs --cluster-id");
        }
        String host = advertise != null ? advertise : listen.host();
        if (host.equals("0.0.0.0") || host.equals("::")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--host " + host + " is no address a client "
                    + "can reach: give --advertise HOST");
        }
        Duration ttl;
        java.util.List<java.net.URI> endpoints;
        try {
            ttl = seconds(leaseTtl);
            endpoints = EtcdClient.endpoints(etcd);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        ElectedMaster master = new ElectedMaster(listen.host(), listen.port(), host, evictionPolicy, nodeTimeoutMillis,
                endpoints, clusterId, ttl);
        HealthServer http = serveMetrics(master, () -> master.service().master(), master::role);
        ProcessSupport.announceReady("role=master port=" + master.port() + " cluster=" + clusterId
                + " address=" + master.address() + metricsPort(http));
        ProcessSupport.runUntilStopped(master, http);
        return 0;
    }

    /** "5s" or "5": whole seconds, at least 1. */
    /**
     * This master's /metrics and /ready when {@code --metrics-port} is given, else null;
     * closes {@code process} when the port cannot be served.
     */
    private HealthServer serveMetrics(AutoCloseable process, Supplier<Master> state, Supplier<MasterRole> role) {
        if (!metrics.enabled()) {
            return null;
        }
        boolean serving = false;
        try {
            HealthServer http = MetricsServers.master(metrics.host(listen.host()), metrics.port(), state, role);
            serving = true;
            return http;
        } finally {
            if (!serving) {
                ProcessSupport.closeQuietly(process);
            }
        }
    }

    private static String metricsPort(HealthServer http) {
        return http == null ? "" : " metrics=" + http.port();
    }

    static Duration seconds(String text) {
        String digits = text.endsWith("s") ? text.substring(0, text.length() - 1) : text;
        try {
            long s = Long.parseLong(digits.strip());
            if (s >= 1) {
                return Duration.ofSeconds(s);
            }
        } catch (NumberFormatException ignored) {
            // below
        }
        throw new IllegalArgumentException("--lease-ttl '" + text + "': expected whole seconds >= 1, e.g. 5s");
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new MasterMain(), args));
    }
}
