package dev.ferry.store.server;

import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterRole;
import dev.ferry.store.metrics.HealthServer;
import dev.ferry.store.node.StoreNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.function.Supplier;

/**
 * Starts the HTTP endpoint ({@code /metrics}, {@code /health}, {@code /ready}) of a master
 * or a store node process, its meters registered first. Stateless; thread-safe.
 */
public final class MetricsServers {
    private MetricsServers() {
    }

    /**
     * A master's endpoint ({@link MasterMetrics}); {@code /ready} is 200 while it leads.
     *
     * @param port 0 for a free one
     * @param master the master's state now (a new one each term under leader election)
     * @param role this master's role now ({@link MasterRole#SOLE} without leader election)
     * @throws IllegalStateException when the port cannot be bound
     */
    public static HealthServer master(String host, int port, Supplier<Master> master, Supplier<MasterRole> role) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        MasterMetrics meters = new MasterMetrics(registry, master, role);
        return new HealthServer(host, port, registry, () -> role.get().leader(), meters::refresh);
    }

    /**
     * A store node's endpoint ({@link StoreNodeMetrics}, and whatever else is in
     * {@code registry}: the node's transfer engine's meters when it was given it);
     * {@code /ready} is 200 while the node is registered with a master.
     *
     * @param port 0 for a free one
     * @throws IllegalStateException when the port cannot be bound
     */
    public static HealthServer storeNode(String host, int port, StoreNode node, PrometheusMeterRegistry registry) {
        StoreNodeMetrics meters = new StoreNodeMetrics(registry, node);
        return new HealthServer(host, port, registry, node::registered, meters::refresh);
    }
}
