package dev.ferry.store.server;

import dev.ferry.store.cli.BindAddress;
import dev.ferry.store.cli.ByteSizes;
import dev.ferry.store.cli.CapacityOption;
import dev.ferry.store.cli.DataOption;
import dev.ferry.store.cli.MasterOptions;
import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.cli.SlabOptions;
import dev.ferry.store.cli.SsdOptions;
import dev.ferry.store.sidecar.Sidecar;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * {@code ferry sidecar}: a store node and store client next to an inference engine, serving
 * the sidecar protocol on a Unix socket (docs/protocol.md). Settings come from the command
 * line, then from {@code --config FILE} (a properties file whose keys are the option names
 * without dashes), then from the defaults. Prints {@code FERRY-READY role=sidecar socket=...}
 * once it serves; SIGTERM or Ctrl-C drains requests in flight and stops.
 */
@Command(name = "sidecar", mixinStandardHelpOptions = true,
        description = "Run a store node and client that an inference engine reaches over a Unix socket.")
public final class SidecarMain implements Callable<Integer> {
    /** The DRAM slab's size without --capacity: 1 GiB. */
    public static final long DEFAULT_CAPACITY = 1L << 30;
    private static final Logger LOG = LoggerFactory.getLogger(SidecarMain.class);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", description = "Properties file of settings, e.g. 'capacity=4GiB' (the command line wins).")
    Path config;

    @Option(names = "--socket", defaultValue = "/tmp/ferry-sidecar.sock", description = "Unix socket path (default ${DEFAULT-VALUE}).")
    Path socket;

    @Option(names = "--tcp", description = "Also serve TCP on host:port (port 0 picks one); a non-loopback host needs TLS (--tls-dir) or --insecure-no-tls.")
    String tcp;

    @Option(names = "--token", defaultValue = "${env:FERRY_SIDECAR_TOKEN}", description = "Token TCP clients must send in HELLO (default: $FERRY_SIDECAR_TOKEN).")
    String token;

    @Mixin
    MasterOptions master;

    @Mixin
    CapacityOption capacity;

    @Mixin
    SlabOptions slab;

    @Mixin
    SsdOptions ssd;

    @Option(names = "--master-port", defaultValue = "0", description = "Port of the embedded master (default: a free one).")
    int masterPort;

    @Option(names = "--node-id", description = "Store node name (default sidecar-<pid>).")
    String nodeId;

    @Mixin
    DataOption data;

    @Option(names = "--http", description = "Serve /health, /ready and /metrics on host:port, e.g. 127.0.0.1:9464.")
    String http;

    @Option(names = "--max-frame", defaultValue = "16MiB", description = "Largest frame (default ${DEFAULT-VALUE}).")
    String maxFrame;

    @Option(names = "--max-in-flight", defaultValue = "64", description = "Requests served at once per connection (default ${DEFAULT-VALUE}).")
    int maxInFlight;

    @Option(names = "--quota", defaultValue = "16GiB", description = "Shared-buffer bytes one connection may register (default ${DEFAULT-VALUE}).")
    String quota;

    @Option(names = "--lease-ms", defaultValue = "10000", description = "Lease TTL of reads, ms (default ${DEFAULT-VALUE}).")
    long leaseMillis;

    @Option(names = "--lease-cache-ms", defaultValue = "-1", description = "How long the lease of a read of blocks "
            + "on this sidecar's own node serves further reads of them with no call to the master, ms (default: "
            + "1000, at most half of --lease-ms); 0 turns the lease cache off.")
    long leaseCacheMillis;

    @Option(names = "--grants", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Put into this sidecar's own node through space the master grants ahead: one master call "
                    + "per put (default); --no-grants: two, and a full store's eviction order exactly that of store "
                    + "nodes without sidecars (granted space counts as used until a put takes it).")
    boolean grants;

    @Option(names = "--frame-timeout-ms", defaultValue = "10000", description = "Longest a client may stay "
            + "silent with a frame half sent, ms (default ${DEFAULT-VALUE}); then its connection is closed.")
    long frameTimeoutMillis;

    @Option(names = "--drain-ms", defaultValue = "10000", description = "Longest wait for requests in flight at shutdown, ms (default ${DEFAULT-VALUE}).")
    long drainMillis;

    @Option(names = "--policy", defaultValue = "lru", description = "Eviction policy of the embedded master: lru or s3fifo (default ${DEFAULT-VALUE}).")
    String policy;

    @Option(names = "--shared-memory", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Reach store nodes of this host through their slab files (default); --no-shared-memory: TCP.")
    boolean sharedMemory;

    @Mixin
    dev.ferry.store.cli.TlsOptions tls;

    @Option(names = "--process-memory", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Copy straight from and to local clients' private memory (process_vm_readv/writev) "
                    + "when they ask (default); --no-process-memory: they copy through shared buffers.")
    boolean processMemory;

    @Option(names = "--copy-threads", defaultValue = "2", description = "Threads that copy the values of one large "
            + "batch (at least two values, 4 MiB): 2 splits it across the request's thread and a helper (default "
            + "${DEFAULT-VALUE}), 1 copies it on the request's thread.")
    int copyThreads;

    @Option(names = "--exit-on-stdin-close", description = "Also stop when stdin closes (for a parent process).")
    boolean exitOnStdinClose;

    @Override
    public Integer call() throws IOException {
        if (config != null) {
            applyConfig(config);
        }
        tls.install();
        long maxFrameBytes = ByteSizes.parse(maxFrame);
        if (maxFrameBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--max-frame must be below 2 GiB");
        }
        Sidecar.Context ctx = new Sidecar.Context().socketPath(socket).token(token).master(master.address()).masterClusterId(master.clusterId())
                .masterPort(masterPort).masterReconnectMillis(master.reconnectMillis())
                .capacityBytes(capacity.bytesOr(DEFAULT_CAPACITY)).shmDir(slab.shmDir())
                .data(data.address().host(), data.address().port())
                .maxFrameBytes((int) maxFrameBytes).maxInFlight(maxInFlight).quotaBytes(ByteSizes.parse(quota))
                .leaseMillis(leaseMillis).leaseCacheMillis(leaseCacheMillis).drainMillis(drainMillis).frameTimeoutMillis(frameTimeoutMillis).policy(policy).sharedMemory(sharedMemory)
                .dataDir(slab.dataDir()).ssd(ssd.dir(), ssd.bytes())
                .lazySlab(slab.lazySlab()).scrubBytesPerSecond(slab.scrubRate()).processMemory(processMemory)
                .copyThreads(copyThreads).grants(grants);
        if (nodeId != null) {
            ctx.nodeId(nodeId);
        }
        if (tcp != null) {
            BindAddress address = BindAddress.parse(tcp);
            ctx.tcp(address.host(), address.port());
        }
        if (http != null) {
            BindAddress address = BindAddress.parse(http);
            ctx.http(address.host(), address.port());
        }
        Sidecar sidecar = new Sidecar(ctx);
        ProcessSupport.announceReady("role=sidecar socket=" + sidecar.socketPath() + " tcp=" + sidecar.tcpPort()
                + " http=" + sidecar.httpPort() + " master=" + sidecar.masterAddress() + " file=" + sidecar.slabFile()
                + " populate_ms=" + sidecar.populateNanos() / 1_000_000 + " page_size=" + sidecar.slabPageSize());
        // The drain waits twice at most (requests in flight, then the aborts of closed sessions).
        long graceMillis = 2 * drainMillis + ProcessSupport.STOP_GRACE_SECONDS * 1000L;
        ProcessSupport.runUntilStopped(exitOnStdinClose, graceMillis, () -> {
            LOG.info("stopping: draining {} requests in flight", sidecar.inFlight());
            sidecar.close();
        });
        return 0;
    }

    public static void main(String[] args) {
        System.exit(NodeCommandLine.run(new SidecarMain(), args));
    }

    /** Sets, from the file, every option not given on the command line. */
    private void applyConfig(Path file) throws IOException {
        Properties props = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            props.load(r);
        }
        CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        for (String key : props.stringPropertyNames()) {
            OptionSpec option = spec.findOption("--" + key);
            if (option == null || key.equals("config")) {
                throw new IllegalArgumentException(file + ": unknown setting '" + key + "'");
            }
            if (parsed.hasMatchedOption(option)) {
                continue;
            }
            String value = props.getProperty(key).trim();
            Class<?> type = option.type();
            try {
                if (option.converters().length > 0) {
                    option.setValue(option.converters()[0].convert(value));
                    continue;
                }
                option.setValue(type == int.class ? Integer.valueOf(value) : type == long.class ? Long.valueOf(value)
                        : type == boolean.class ? Boolean.valueOf(value) : type == Path.class ? Path.of(value) : value);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": setting '" + key + "' expects a number, got '" + value + "'");
            } catch (Exception e) {
                throw new IllegalArgumentException(file + ": setting '" + key + "': " + e.getMessage(), e);
            }
        }
    }
}
