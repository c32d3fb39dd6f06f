package dev.ferry.store.server;

import dev.ferry.store.cli.CapacityOption;
import dev.ferry.store.cli.DataOption;
import dev.ferry.store.cli.Deprecation;
import dev.ferry.store.cli.IoOptions;
import dev.ferry.store.cli.MasterOptions;
import dev.ferry.store.cli.MetricsOptions;
import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.cli.SlabOptions;
import dev.ferry.store.cli.SsdOptions;
import dev.ferry.store.cli.TlsOptions;
import dev.ferry.store.cli.WarmUpOption;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.metrics.HealthServer;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.node.StoreNode;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A store node as a process ({@link StoreNode}): a DRAM slab under {@code /dev/shm} served
 * as one segment, heartbeats to the master, and, with {@code --data-dir}, a persistent slab
 * and block index that a restarted node finds again.
 */
@Command(name = "store-node", mixinStandardHelpOptions = true, description = "Runs a Ferry store node.")
public final class StoreNodeMain implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--node-id", required = true, description = "Unique node name.")
    String nodeId;

    @Mixin
    MasterOptions master;

    @Mixin
    CapacityOption capacity;

    @Mixin
    SlabOptions slab;

    @Mixin
    SsdOptions ssd;

    @Mixin
    DataOption data;

    @Option(names = "--host", paramLabel = "ADDR", hidden = true, description = "Deprecated: the host of --data.")
    void host(String host) {
        Deprecation.warn(spec, "--host", "--data HOST:PORT");
        data.host(host);
    }

    @Option(names = "--data-port", paramLabel = "N", hidden = true, description = "Deprecated: the port of --data.")
    void dataPort(int port) {
        Deprecation.warn(spec, "--data-port", "--data HOST:PORT");
        data.port(port);
    }

    @Option(names = "--advertise", split = ",", description = "Addresses peers use to reach this node, one per "
            + "interface (default: the host of --data).")
    List<String> advertise;

    @Option(names = "--aeron", description = "Also serve the segment over Aeron UDP (embedded media driver).")
    boolean aeron;

    @Option(names = "--ssd-policy", defaultValue = "lru", description = "The SSD tier's own eviction policy: lru or "
            + "s3fifo (default ${DEFAULT-VALUE}).")
    String ssdPolicy;

    @Option(names = "--heartbeat-ms", defaultValue = "300", description = "Heartbeat period, ms.")
    long heartbeatMillis;

    @Mixin
    MetricsOptions metrics;

    @Mixin
    TlsOptions tls;

    @Mixin
    IoOptions io;

    @Mixin
    WarmUpOption warmUp;

    @Override
    public Integer call() {
        if (master.address() == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: "
                    + "'--master=ADDRESS'");
        }
        tls.install();
        var backend = io.install();
        long capacityBytes = capacity.required();
        String warmedUp = warmUp.run();
        TransferEngine.Context engine = new TransferEngine.Context().bindHost(data.address().host())
                .port(data.address().port())
                .advertise(advertise == null ? List.of() : advertise).aeron(aeron);
        MasterAddress masterAddress;
        try {
            masterAddress = MasterAddress.parse(master.address(), master.clusterId());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        if (metrics.enabled()) {
            metrics.port(); // a bad port fails before the node starts
            engine.metrics(registry, nodeId);
        }
        StoreNode node = StoreNode.start(new StoreNode.Config(nodeId, masterAddress, capacityBytes,
                engine, slab.shmDir(), slab.dataDir(), ssd.dir(), ssd.bytes() > 0 ? ssd.bytes() : 8 * capacityBytes,
                ssdPolicy, heartbeatMillis, slab.lazySlab(), slab.scrubRate(), master.reconnectMillis()));
        HealthServer http = null;
        boolean serving = false;
        try {
            if (metrics.enabled()) {
                http = MetricsServers.storeNode(metrics.host(data.address().host()), metrics.port(), node, registry);
            }
            serving = true;
        } finally {
            if (!serving) {
                node.close();
            }
        }
        SegmentDescriptor segment = node.segment();
        ProcessSupport.announceReady("role=store node=" + nodeId + " data=" + segment.endpoints().getFirst()
                + " file=" + node.slabFile() + " segment=" + segment.name() + " bytes=" + capacityBytes
                + " recovered=" + node.recovered() + " dropped=" + node.dropped()
                + " populate_ms=" + node.populateNanos() / 1_000_000 + " page_size=" + node.slabPageSize()
                + " io=" + backend.used().flag() + " " + warmedUp
                + (http != null ? " metrics=" + http.port() : ""));
        ProcessSupport.runUntilStopped(node, http);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new StoreNodeMain(), args));
    }
}
