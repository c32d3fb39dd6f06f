package dev.ferry.cluster.cli;

import dev.ferry.cluster.ChildProcess;
import dev.ferry.cluster.bench.TransferBench;
import dev.ferry.cluster.bench.TransferBenchReport;
import dev.ferry.cluster.netns.SegmentServerMain;
import dev.ferry.store.cli.ByteSizes;
import dev.ferry.store.node.HostPort;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferWarmUp;
import dev.ferry.transfer.segment.AeronIpc;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.Opcode;
import dev.ferry.transfer.transport.aeron.MediaDrivers;
import io.aeron.CommonContext;
import io.aeron.driver.MediaDriver;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry bench transfer}: throughput and latency of the transfer engine between an
 * initiator (this process) and a target, for people coming from Mooncake's
 * {@code transfer_engine_bench}. By default the target is a process this command starts on
 * loopback; {@code --target HOST:PORT} uses one started with {@code ferry bench target}.
 */
@Command(name = "transfer", mixinStandardHelpOptions = true,
        description = "Measure transfer throughput and latency (like Mooncake's transfer_engine_bench).")
final class BenchTransferCommand implements Callable<Integer> {
    @Option(names = "--target", description = "A target started with 'ferry bench target', HOST:PORT. "
            + "Default: start one here on loopback.")
    String target;

    @Option(names = "--operation", defaultValue = "write", description = "read or write (default ${DEFAULT-VALUE}).")
    String operation;

    @Option(names = "--block-size", defaultValue = "1MiB", description = "Bytes per request (default ${DEFAULT-VALUE}).")
    String blockSize;

    @Option(names = "--batch-size", defaultValue = "16", description = "Requests per batch (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--threads", defaultValue = "2", description = "Submitting threads (default ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--duration", defaultValue = "10", description = "Seconds to run (default ${DEFAULT-VALUE}).")
    int duration;

    @Option(names = "--sample-ms", defaultValue = "1000", description = "Milliseconds per report line, e.g. 250 "
            + "to see the first second in quarters (default ${DEFAULT-VALUE}).")
    long sampleMillis;

    @Option(names = "--transport", defaultValue = "tcp", description = "tcp, or shm, aeron (UDP) or aeron-ipc (both "
            + "engines on one media driver that this command starts; local target only) (default ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--links", defaultValue = "2", description = "TCP links to the target (default ${DEFAULT-VALUE}).")
    int links;

    @Option(names = "--segment-bytes", defaultValue = "512MiB", description = "Target segment size; must match the "
            + "target's (default ${DEFAULT-VALUE}).")
    String segmentBytes;

    @Option(names = "--warm-up-ms", defaultValue = dev.ferry.store.cli.WarmUpOption.DEFAULT_VALUE,
            description = "Before measuring, move bytes over loopback between throwaway engines, here and in the "
            + "local target, until the JIT compilers go quiet, for at most this long, so that the first second runs "
            + "compiled code; 0 for none (default ${DEFAULT-VALUE}).")
    long warmUpMillis;

    @Option(names = "--tls", description = "Mutual TLS 1.3 on the TCP links, with a CA made in the results "
            + "directory (tls/): the cost of authenticated ports. Local target only.")
    boolean tls;

    /** For a remote target that serves TLS: this initiator's --tls-dir of the target's cluster CA. */
    @picocli.CommandLine.Mixin
    dev.ferry.store.cli.TlsOptions tlsOptions;

    /** The TCP transport's I/O backend, here and in the local target. */
    @picocli.CommandLine.Mixin
    dev.ferry.store.cli.IoOptions io;

    @Option(names = "--out", description = "Results directory (default ferry-out/bench-<time>).")
    Path out;

    @Override
    public Integer call() throws Exception {
        Opcode op = switch (operation.toLowerCase(Locale.ROOT)) {
            case "read" -> Opcode.READ;
            case "write" -> Opcode.WRITE;
            default -> throw new IllegalArgumentException("--operation must be read or write, not '" + operation + "'");
        };
        if (!List.of("tcp", "shm", "aeron", "aeron-ipc").contains(transport)) {
            throw new IllegalArgumentException("unknown transport '" + transport + "'; known: tcp, shm, aeron, aeron-ipc");
        }
        if (!transport.equals("tcp") && target != null) {
            throw new IllegalArgumentException("--transport " + transport + " needs the local target (drop --target)");
        }
        if (tls && (target != null || !transport.equals("tcp"))) {
            throw new IllegalArgumentException("--tls measures TCP links to the local target: drop --target, use "
                    + "--transport tcp");
        }
        if (batchSize < 1 || threads < 1 || duration < 1 || links < 1 || sampleMillis < 1 || warmUpMillis < 0) {
            throw new IllegalArgumentException("--batch-size, --threads, --duration, --links and --sample-ms must be at "
                    + "least 1, --warm-up-ms at least 0");
        }
        long block = ByteSizes.parse(blockSize);
        ioSelection = io.install();
        long segment = ByteSizes.parse(segmentBytes);
        Path dir = out != null ? out : Path.of("ferry-out", "bench-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        boolean ipc = transport.equals("aeron-ipc");
        String driverDir = ipc ? CommonContext.getAeronDirectoryName() + "-ferry-bench-" + ProcessHandle.current().pid()
                : null;
        try (MediaDriver driver = ipc ? MediaDrivers.launch(driverDir) : null) {
            return run(op, block, segment, dir, driverDir);
        }
    }

    private dev.ferry.transfer.transport.tcp.IoSelection ioSelection;

    /** Starts the local target (unless {@code --target}), measures, writes the results. */
    private int run(Opcode op, long block, long segment, Path dir, String driverDir) throws Exception {
        boolean ipc = driverDir != null;
        ChildProcess local = null;
        SegmentDescriptor descriptor;
        if (target == null) {
            List<String> args = new ArrayList<>(List.of("--bytes", Long.toString(segment), "--advertise", "127.0.0.1",
                    "--warm-up-ms", Long.toString(warmUpMillis)));
            if (transport.equals("shm")) {
                args.add("--shm");
            }
            args.addAll(io.arguments());
            if (transport.equals("aeron")) {
                args.add("--aeron");
            }
            if (ipc) {
                args.addAll(List.of("--aeron-dir", driverDir));
            }
            if (tls) {
                args.addAll(List.of("--tls-dir", dev.ferry.transfer.tls.ClusterCa.openOrCreate(dir.resolve("tls"),
                        "ferry-bench-ca").issue(dir.resolve("tls").resolve("target"), "target", List.of()).toString()));
            }
            local = ChildProcess.start("bench-target", List.of(), SegmentServerMain.class.getName(), args,
                    dir.resolve("target.log"));
            String file = local.field("file");
            String hostId = local.field("host-id");
            String aeronPort = local.field("aeron-port");
            // Over IPC the descriptor names only the target's IPC stream, so Aeron can only go that way.
            descriptor = new SegmentDescriptor("target/dram", segment,
                    List.of(new Endpoint("127.0.0.1", Integer.parseInt(local.field("port")))),
                    hostId.equals("-") ? "" : hostId, file.equals("-") ? "" : file,
                    aeronPort.equals("-") || ipc ? List.of()
                            : List.of(new Endpoint("127.0.0.1", Integer.parseInt(aeronPort))),
                    ipc ? new AeronIpc(local.field("aeron-ipc-driver"),
                            Integer.parseInt(local.field("aeron-ipc-stream"))) : null);
        } else {
            HostPort hp = HostPort.parse(target);
            descriptor = new SegmentDescriptor("target/dram", segment, new Endpoint(hp.host(), hp.port()));
        }
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("operation", op.name().toLowerCase(Locale.ROOT));
        settings.put("blockBytes", block);
        settings.put("batchSize", batchSize);
        settings.put("threads", threads);
        settings.put("transport", transport);
        settings.put("links", links);
        settings.put("io", ioSelection.used().flag());
        settings.put("tls", tls);
        settings.put("target", target == null ? "local process" : target);
        settings.put("warmUpMillis", warmUpMillis);
        if (warmUpMillis > 0) {
            long started = System.nanoTime();
            TransferWarmUp.Result warm = TransferWarmUp.run(warmUpMillis);
            System.out.printf("warm-up: %d requests over loopback in %.0f ms (%s)%n", warm.requests(),
                    (System.nanoTime() - started) / 1e6, warm.settled() ? "compiled" : "budget spent");
        }
        System.out.println("ferry bench transfer " + settings);
        System.out.printf("%7s %10s %12s %10s %10s %10s%n", "time", "GB/s", "requests/s", "p50 ms", "p99 ms", "p999 ms");
        TransferBench.Totals totals;
        SegmentDescriptor d = descriptor;
        dev.ferry.transfer.tls.PortSecurity security = tls ? dev.ferry.transfer.tls.PortSecurity.tls(
                dev.ferry.transfer.tls.TlsConfig.fromDir(dev.ferry.transfer.tls.ClusterCa.load(dir.resolve("tls"))
                        .issue(dir.resolve("tls").resolve("initiator"), "initiator", List.of())))
                : tlsOptions.security();
        try (TransferEngine engine = new TransferEngine(new TransferEngine.Context().linksPerPeer(links).security(security)
                .sharedMemory(transport.equals("shm")).aeron(transport.equals("aeron")).aeronDirectory(driverDir)
                .resolver(name -> d))) {
            if (ipc && engine.aeronLinks(d).isEmpty()) {
                throw new IllegalStateException("the target is not reachable over Aeron IPC on driver " + driverDir);
            }
            totals = new TransferBench(engine, descriptor, op, block, batchSize, threads).run(duration, sampleMillis,
                    s -> System.out.printf("%6.2fs %10.2f %12.0f %10.3f %10.3f %10.3f%n", s.second(), s.gbps(),
                            s.requestsPerSecond(), s.p50Millis(), s.p99Millis(), s.p999Millis()));
        } finally {
            if (local != null) {
                local.stop();
                local.awaitExit();
            }
        }
        System.out.printf("total  %10.2f %12.0f %10.3f %10.3f %10.3f   (%d requests, %.2f GB in %.1f s; latency per "
                        + "batch of %d)%n", totals.gbps(), totals.requestsPerSecond(), totals.p50Millis(),
                totals.p99Millis(), totals.p999Millis(), totals.requests(), totals.bytes() / 1e9, totals.seconds(),
                batchSize);
        TransferBenchReport.write(dir, settings, totals).forEach(f -> System.out.println("  wrote " + f));
        return ExitCodes.OK;
    }
}
