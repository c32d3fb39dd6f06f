package dev.ferry.cluster.cli;

import dev.ferry.cluster.ClusterHosts;
import dev.ferry.cluster.LocalCluster;
import dev.ferry.cluster.Replay;
import dev.ferry.cluster.flap.FlapReport;
import dev.ferry.cluster.flap.FlapRun;
import dev.ferry.cluster.netns.NetnsHosts;
import dev.ferry.cluster.report.ProgressReporter;
import dev.ferry.cluster.report.ReplaySummary;
import dev.ferry.cluster.report.ReportFiles;
import dev.ferry.cluster.report.RequestResult;
import dev.ferry.cluster.report.TrafficReport;
import dev.ferry.nativemem.HugeTmpfs;
import dev.ferry.nativemem.MachineInfo;
import dev.ferry.nativemem.device.DeviceChoice;
import dev.ferry.nativemem.device.DeviceMemories;
import dev.ferry.nativemem.device.DeviceMemory;
import dev.ferry.store.cli.SizeOrZeroConverter;
import dev.ferry.prefill.trace.TraceGenerator;
import dev.ferry.prefill.trace.TraceReader;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.cli.Deprecation;
import dev.ferry.store.master.MasterStats;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.rpc.RpcException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job: starts a local prefill/decode cluster (master, store nodes, prefill,
 * decode: one JVM each, on loopback, or with {@code --netns} each in a network namespace of
 * its own), replays a trace through it, and reports hit ratio,
 * transfer throughput, TTFT and the bytes each transport carried, with per-request results as Arrow IPC and CSV and a PNG chart.
 * When a process of the cluster dies (a crash, a kill), the replay submits no more requests
 * once the cluster cannot serve them, and the report of the requests that ran is printed and
 * written all the same, the dead process named, and the exit code is
 * {@link ExitCodes#REQUESTS_FAILED}.
 */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = "Start a local prefill/decode cluster and replay a trace through it.")
final class ClusterCommand implements Callable<Integer> {
    @Option(names = "--trace", description = "Trace in the Mooncake FAST'25 JSONL format "
            + "(kvcache-ai/Mooncake, FAST25-release/traces). Default: a generated trace.")
    Path trace;

    @Option(names = "--requests", defaultValue = "200", description = "Requests to replay; 0 = the whole trace (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--time-scale", defaultValue = "0", description = "Factor on trace timestamps; 0 = as fast as possible (default ${DEFAULT-VALUE}).")
    double timeScale;

    @Option(names = "--model", defaultValue = "qwen2.5-0.5b", description = "Model profile (default ${DEFAULT-VALUE}); see 'ferry profiles'.")
    String model;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--capacity-blocks", paramLabel = "N", defaultValue = "1000", description = "Store capacity in KV "
            + "blocks, over all store nodes (default ${DEFAULT-VALUE}).")
    long capacityBlocks;

    @Option(names = "--capacity", paramLabel = "N", hidden = true, description = "Deprecated alias of --capacity-blocks.")
    void capacity(long blocks) {
        Deprecation.warn(spec, "--capacity", "--capacity-blocks N (a count of KV blocks; --capacity is a size in "
                + "bytes in store-node and sidecar)");
        deprecatedCapacity = blocks;
    }

    /** What the deprecated --capacity gave; picocli applies --capacity-blocks' default on its own. */
    private Long deprecatedCapacity;
    private Long deprecatedSsdCapacity;

    @Option(names = "--master-port", defaultValue = "0", description = "The master's RPC port; 0 picks a free one "
            + "(default ${DEFAULT-VALUE}). The other processes always pick free ports.")
    int masterPort;

    @Option(names = "--masters", defaultValue = "1", description = "Master processes (default ${DEFAULT-VALUE}); "
            + "more than one elect a leader in a local etcd (needs etcd-server; with --netns etcd and each master "
            + "run on a host of their own) and the other processes follow it across failovers.")
    int masters;

    @Option(names = "--policy", defaultValue = "lru", description = "Eviction policy: lru or s3fifo (default ${DEFAULT-VALUE}).")
    String policy;

    @Option(names = "--replicas", defaultValue = "1", description = "Copies of each block on different store nodes; "
            + "each copy takes room (default ${DEFAULT-VALUE}).")
    int replicas;

    @Option(names = "--ssd-capacity-blocks", paramLabel = "N", defaultValue = "0", description = "SSD tier capacity "
            + "in KV blocks over all store nodes (RocksDB under the report directory); 0 for DRAM only (default "
            + "${DEFAULT-VALUE}).")
    long ssdBlocks;

    @Option(names = "--ssd-capacity", paramLabel = "N", hidden = true, description = "Deprecated alias of "
            + "--ssd-capacity-blocks.")
    void ssdCapacity(long blocks) {
        Deprecation.warn(spec, "--ssd-capacity", "--ssd-capacity-blocks N (a count of KV blocks)");
        deprecatedSsdCapacity = blocks;
    }

    @Option(names = "--gpu-capacity", paramLabel = "SIZE", converter = SizeOrZeroConverter.class,
            description = "GPU tier of prefill and decode each, e.g. 512MiB: their engines' GPU memory in front of "
                    + "the store (CUDA when present, else host memory standing in); 0 or absent for none. Not with --sidecar.")
    long gpuCapacity;

    @Option(names = "--store-nodes", defaultValue = "2", description = "Store node processes (default ${DEFAULT-VALUE}).")
    int storeNodes;

    @Option(names = "--concurrency", defaultValue = "1", description = "Requests in flight; 1 reproduces the reference LRU hit ratio exactly (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--links", defaultValue = "2", description = "TCP links per peer (default ${DEFAULT-VALUE}).")
    int links;

    @Option(names = "--transport", defaultValue = "tcp", description = "How prefill and decode reach the store nodes: "
            + "tcp (Netty, the network path), aeron (Aeron UDP, TCP as the fallback) or shm (shared memory, same host "
            + "only) (default ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--sidecar", description = "Prefill and decode each reach the store through a sidecar of their "
            + "own (Unix socket, shared memory), the two sidecars being the store nodes: the path of an inference "
            + "engine. Needs --store-nodes 2, --replicas 1, no SSD tier, --transport tcp or shm.")
    boolean sidecar;

    @Option(names = "--netns", description = "Each role (master, every store node, prefill, decode; with --masters: "
            + "etcd and each master) on a host of "
            + "its own: a network namespace with its own address on a Linux bridge and its own host identity, so "
            + "nothing moves over loopback or shared memory between them (shm then falls back to TCP). Needs root; "
            + "the namespaces, veths and bridge are removed when the run ends. Not with --sidecar.")
    boolean netns;

    @Option(names = "--links-per-host", paramLabel = "N", defaultValue = "1", description = "With --netns: links "
            + "(interfaces) per host, each on a bridge and subnet of its own; store nodes advertise an address on "
            + "each, and prefill and decode open --links connections to each (default ${DEFAULT-VALUE}, at most 4).")
    int linksPerHost;

    @Option(names = "--flap-every", paramLabel = "DURATION", description = "With --netns and --links-per-host 2 or "
            + "more: take the last link of store-1 down and up again this often during the replay (e.g. 3s, 1500ms), "
            + "and report per flap the detection time and the stall after it.")
    String flapEvery;

    @Option(names = "--flap-down", paramLabel = "DURATION", description = "How long each flap keeps the link down "
            + "(default: half of --flap-every).")
    String flapDown;

    @Option(names = "--stall-timeout-ms", paramLabel = "MS", defaultValue = "0", description = "How long prefill's and "
            + "decode's transfer engines wait for progress on a link before they cut it and resend its slices on "
            + "another: the detection time of a link that dies silently; 0 for the engines' default, 2000, or 500 "
            + "with --flap-every (default ${DEFAULT-VALUE}).")
    long stallTimeoutMillis;

    @Option(names = "--insecure-no-tls", description = "With --netns, the roles talk plain TCP (and may use Aeron "
            + "UDP) on the bridge, which is private to this host, instead of mutual TLS with a CA made in the run's "
            + "logs/tls directory (the default).")
    boolean insecure;

    @Option(names = "--slab-dir", paramLabel = "DIR", description = "Where the store nodes (or sidecars) put their "
            + "slab files: a tmpfs; one mounted with huge=always gives the slabs 2 MiB pages. Default: their own "
            + "($FERRY_SLAB_DIR, else /dev/shm).")
    Path slabDir;

    @Option(names = "--huge-pages", description = "Put the slabs on 2 MiB pages: mount a tmpfs of the store's size "
            + "with huge=always on a new directory under the temporary directory for the run (needs root), and "
            + "unmount it at the end. Not with --slab-dir.")
    boolean hugePages;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the generated trace (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", description = "Report directory (default ferry-out/<time>).")
    Path out;

    @Option(names = "--no-progress", description = "No progress bar.")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        if (deprecatedCapacity != null && !parsed.hasMatchedOption("--capacity-blocks")) {
            capacityBlocks = deprecatedCapacity;
        }
        if (deprecatedSsdCapacity != null && !parsed.hasMatchedOption("--ssd-capacity-blocks")) {
            ssdBlocks = deprecatedSsdCapacity;
        }
        ModelProfile profile = ModelProfile.byName(model);
        dev.ferry.store.eviction.EvictionPolicy.byName(policy); // a bad name fails here, before any process starts
        if (requests < 0 || concurrency < 1 || storeNodes < 1 || links < 1 || timeScale < 0 || masters < 1) {
            throw new IllegalArgumentException("--requests, --time-scale must be >= 0; --concurrency, --store-nodes, "
                    + "--links, --masters >= 1");
        }
        if (!List.of("tcp", "shm", "aeron").contains(transport)) {
            throw new IllegalArgumentException("unknown transport '" + transport + "'; known: tcp, shm, aeron");
        }
        if (netns && sidecar) {
            throw new IllegalArgumentException("--netns puts every role on a host of its own; a sidecar serves an engine "
                    + "on its own host through a Unix socket: leave out --sidecar");
        }
        if (netns && transport.equals("aeron") && !insecure) {
            throw new IllegalArgumentException("--netns --transport aeron: Aeron UDP carries no authentication, so it "
                    + "does not leave loopback unless the roles trust the network: add --insecure-no-tls (the bridge "
                    + "is private to this host), or use --transport tcp (mutual TLS)");
        }
        if (linksPerHost < 1 || linksPerHost > NetnsHosts.MAX_LINKS_PER_HOST || (linksPerHost > 1 && !netns)) {
            throw new IllegalArgumentException("--links-per-host is 1 to " + NetnsHosts.MAX_LINKS_PER_HOST
                    + ", above 1 with --netns only (loopback is one link)");
        }
        long flapEveryMillis = flapEvery == null ? 0 : durationMillis("--flap-every", flapEvery);
        long flapDownMillis = flapDown == null ? flapEveryMillis / 2 : durationMillis("--flap-down", flapDown);
        if (flapEvery == null && flapDown != null) {
            throw new IllegalArgumentException("--flap-down needs --flap-every");
        }
        if (flapEvery != null && (linksPerHost < 2 || transport.equals("aeron"))) {
            throw new IllegalArgumentException("--flap-every cuts one of two TCP links: give --netns --links-per-host 2 "
                    + "(or more) and --transport tcp");
        }
        if (flapEvery != null && (flapDownMillis < 1 || flapDownMillis >= flapEveryMillis)) {
            throw new IllegalArgumentException("--flap-down (" + flapDownMillis + " ms) must be shorter than "
                    + "--flap-every (" + flapEveryMillis + " ms)");
        }
        if (stallTimeoutMillis == 0 && flapEvery != null) {
            stallTimeoutMillis = 500;
        }
        if (netns) {
            var reason = NetnsHosts.unavailableReason();
            if (reason.isPresent()) {
                throw new IllegalArgumentException("--netns: " + reason.get());
            }
        }
        if (hugePages && slabDir != null) {
            throw new IllegalArgumentException("--huge-pages mounts a tmpfs of its own for the slabs: leave out "
                    + "--slab-dir, or give only --slab-dir of a tmpfs mounted with huge=always");
        }
        if (slabDir != null && !Files.isDirectory(slabDir)) {
            throw new IllegalArgumentException("--slab-dir " + slabDir + " is not a directory");
        }
        Path dir = out != null ? out : Path.of("ferry-out",
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        // Checks the combination of settings before any process starts.
        LocalCluster.Config config = new LocalCluster.Config(profile, capacityBlocks, storeNodes, links, transport,
                policy, masterPort, replicas, ssdBlocks, dir.resolve("logs"), sidecar, stallTimeoutMillis,
                gpuCapacity, slabDir);
        List<TraceRequest> requestsToReplay = trace == null
                ? TraceGenerator.generate(seed, requests == 0 ? 1000 : requests)
                : TraceReader.read(trace, requests);
        String source = trace == null ? "generated (seed " + seed + ", not a real trace)" : trace.toString();
        checkCapacity(profile, requestsToReplay);
        List<String> header = List.of(
                "Ferry local cluster replay",
                "  trace              " + source,
                "  model              " + profile.name() + " (" + profile.blockBytes() / 1024 + " KiB per block of "
                        + profile.blockTokens() + " tokens)",
                "  store              " + capacityBlocks + " blocks (" + String.format("%.2f GB", capacityBlocks
                        * profile.blockBytes() / 1e9) + ") over " + (sidecar ? 2 : storeNodes) + " store nodes, " + policy
                        + (replicas > 1 ? ", " + replicas + " replicas per block" : "")
                        + (ssdBlocks > 0 ? ", SSD tier of " + ssdBlocks + " blocks (RocksDB BlobDB)" : ""),
                "  cluster            " + (masters > 1 ? masters + " masters (leader elected in a local etcd"
                        + (netns ? " on a host of its own" : "") + ")"
                        : "master") + ", " + (sidecar ? "2 sidecars (the store nodes; prefill and decode reach "
                        + "the store only through their own, over a Unix socket and shared memory)" : storeNodes
                        + " store nodes") + ", 1 prefill, 1 decode (separate JVMs, "
                        + switch (transport) {
                            case "shm" -> netns ? "shared memory asked for, none between hosts: TCP"
                                    : "shared-memory transport";
                            case "aeron" -> "Aeron UDP transport, TCP as the fallback";
                            default -> "TCP transport on Netty, " + (linksPerHost > 1 ? links + " links to each of "
                                    + "a peer's " + linksPerHost + " addresses" : links + " links per peer");
                        } + ")",
                "  hosts              " + (netns ? "one network namespace per role on a bridge, each with its own "
                        + "address and host identity (no loopback, no shared memory between roles), "
                        + (insecure ? "plain TCP (--insecure-no-tls)" : "mutual TLS 1.3 (a CA made in "
                        + dir.resolve("logs").resolve("tls") + ")") : "one host, on loopback"),
                "  GPU tier           " + (gpuCapacity > 0 ? String.format(Locale.ROOT, "%.1f MiB", gpuCapacity / 1048576.0)
                        + " (" + gpuCapacity / profile.blockBytes()
                        + " blocks) in prefill and in decode each, on " + gpuDevice()
                        : "none (--gpu-capacity 0): decode reads every block from the store"),
                "  machine            " + MachineInfo.probe().describe(),
                "  link faults        " + (flapEvery == null ? "none" : "store-1's link " + (linksPerHost - 1) + " down "
                        + flapDownMillis + " ms every " + flapEveryMillis + " ms; engines' stall timeout "
                        + stallTimeoutMillis + " ms"),
                "  TTFT               queueing + prefill compute (modeled: 2*params*tokens at 400 TFLOP/s) + "
                        + "measured WRITE and READ transfers (with a GPU tier: and its copies, landing with the copy "
                        + "down and promotion) + first decode step (modeled)");
        header.forEach(System.out::println);
        List<RequestResult> results;
        long wall;
        MasterStats store = null;
        java.util.Map<String, Long> gpuCopies = null;
        String storeMissing = null;
        TrafficReport traffic = null;
        String trafficMissing = null;
        java.util.Map<String, dev.ferry.transfer.metrics.MappingPopulation> mappings = null;
        List<String> deaths;
        List<String> failovers;
        FlapReport flaps = null;
        List<LocalCluster.SlabStart> slabs = List.of();
        NetnsHosts bed = netns ? NetnsHosts.create(roles(), linksPerHost) : null;
        HugeTmpfs huge = hugePages ? mountHugeTmpfs(profile) : null;
        if (huge != null) {
            config = config.withSlabDir(huge.dir());
        }
        try (HugeTmpfs mounted = huge; LocalCluster cluster = LocalCluster.start(config,
                bed != null ? bed : ClusterHosts.loopback(), masters, insecure)) {
            System.out.println("  started            master at " + (masters > 1 ? cluster.masterAddress() + " (leader "
                    + cluster.master() + ")" : cluster.master()) + ", prefill at "
                    + cluster.prefill() + "; logs in " + dir.resolve("logs"));
            if (netns) {
                System.out.println("  network            " + cluster.hosts().describe());
            }
            slabs = cluster.slabs();
            System.out.println("  slabs              " + describeSlabs(slabs, huge != null ? huge.dir() : slabDir,
                    huge != null));
            if (!cluster.metricsEndpoints().isEmpty()) {
                System.out.println("  metrics            " + String.join(", ", cluster.metricsEndpoints().entrySet().stream()
                        .map(e -> e.getKey() + " http://" + e.getValue() + "/metrics").toList()));
            }
            long start = System.nanoTime();
            if (flapEvery != null) {
                FlapRun run = FlapRun.start(cluster, bed, "store-1", linksPerHost - 1, flapEveryMillis, flapDownMillis);
                try {
                    results = replay(cluster, requestsToReplay);
                } finally {
                    flaps = run.finish(stallTimeoutMillis);
                }
            } else {
                results = replay(cluster, requestsToReplay);
            }
            wall = System.nanoTime() - start;
            try {
                store = cluster.masterStats();
                gpuCopies = gpuCapacity > 0 ? cluster.gpuCopies() : null;
            } catch (RpcException e) {
                storeMissing = e.getMessage();
            }
            try {
                traffic = cluster.traffic();
                mappings = sidecar ? null : cluster.mappings();
            } catch (RpcException e) {
                trafficMissing = e.getMessage();
            }
            deaths = cluster.deaths();
            failovers = cluster.failovers();
        }
        ReplaySummary summary = ReplaySummary.of(results, wall);
        System.out.println();
        System.out.print(summary.format(List.of("Results")));
        System.out.printf(Locale.ROOT, "  %-18s %s%n", "bytes by transport", sidecar
                ? "not counted: the sidecars' engines move the bytes" : traffic != null
                ? traffic.formatBytesByTransport() : "unavailable: " + trafficMissing);
        if (mappings != null) {
            System.out.printf(Locale.ROOT, "  %-18s %s%n", "mappings populated", describeMappings(mappings));
        }
        if (flaps != null) {
            for (String line : flaps.format()) {
                System.out.printf(Locale.ROOT, "  %-18s %s%n", "link flaps", line);
            }
        }
        if (store != null) {
            printStore(store, gpuCapacity > 0 ? summary.tiers().gpu().blocksRead() : -1);
            if (gpuCopies != null) {
                System.out.printf(Locale.ROOT, "  %-18s %s%n", "GPU copies", gpuCopies.isEmpty()
                        ? "none reported to the master" : String.join(", ", gpuCopies.entrySet().stream()
                        .map(e -> e.getValue() + " in " + e.getKey()).toList())
                        + " (blocks held in the engines' GPU tiers, as the master knows them)");
            }
        } else {
            System.out.printf(Locale.ROOT, "  %-18s unavailable: %s%n", "store counts", storeMissing);
        }
        // Written whatever happened: every result the replay got is kept.
        List<Path> files = ReportFiles.write(dir, results, summary, traffic, "TTFT: " + profile.name() + ", "
                + results.size() + " requests, capacity " + capacityBlocks + " blocks",
                extraSections(flaps, slabs, mappings));
        files.forEach(f -> System.out.println("  wrote              " + f));
        results.stream().filter(RequestResult::failed).limit(5)
                .forEach(r -> System.out.println("  failed request " + r.index() + ": " + r.error()));
        if (!failovers.isEmpty()) {
            System.out.println("  masters lost       " + String.join("; ", failovers) + " died during the replay; "
                    + "a standby took over");
        }
        if (!deaths.isEmpty()) {
            System.err.println("ferry: " + String.join("; ", deaths) + " died during the replay; " + results.size()
                    + " of " + requestsToReplay.size() + " requests ran (" + summary.failed()
                    + " failed), the report covers them");
            return ExitCodes.REQUESTS_FAILED;
        }
        if (summary.verifyFailures() > 0) {
            System.err.println("ferry: " + summary.verifyFailures() + " blocks failed verification");
            return ExitCodes.VERIFY_FAILED;
        }
        return summary.failed() > 0 ? ExitCodes.REQUESTS_FAILED : ExitCodes.OK;
    }

    /**
     * The sections of summary.json after the summary: {@code slabs}, {@code mappings} when the
     * engines could be asked, and {@code linkFlaps} when links flapped.
     */
    private static java.util.Map<String, Object> extraSections(FlapReport flaps, List<LocalCluster.SlabStart> slabs,
            java.util.Map<String, dev.ferry.transfer.metrics.MappingPopulation> mappings) {
        java.util.Map<String, Object> more = new java.util.LinkedHashMap<>();
        more.put("slabs", slabs.stream().map(s -> {
            java.util.Map<String, Object> slab = new java.util.LinkedHashMap<>();
            slab.put("node", s.node());
            slab.put("file", s.file().toString());
            slab.put("pageSize", s.pageSize());
            slab.put("populateMillis", s.populateMillis());
            return slab;
        }).toList());
        if (mappings != null) {
            java.util.Map<String, Object> byNode = new java.util.LinkedHashMap<>();
            mappings.forEach((node, m) -> byNode.put(node, java.util.Map.of("bytes", m.bytes(),
                    "millis", Math.round(m.millis()))));
            more.put("mappings", byNode);
        }
        if (flaps != null) {
            more.put("linkFlaps", flaps.toJson());
        }
        return more;
    }

    /**
     * E.g. {@code prefill 6.30 GB in 4210 ms, decode none (the engines' mappings of the store
     * nodes' slabs, populated in the background from their first writes)}.
     */
    static String describeMappings(java.util.Map<String, dev.ferry.transfer.metrics.MappingPopulation> mappings) {
        return String.join(", ", mappings.entrySet().stream().map(e -> e.getKey() + " " + (e.getValue().bytes() == 0
                ? "none" : String.format(Locale.ROOT, "%.2f GB in %d ms", e.getValue().bytes() / 1e9,
                Math.round(e.getValue().millis())))).toList())
                + " (the engines' mappings of the store nodes' slabs, populated in the background from their first writes)";
    }

    /** E.g. {@code 2MiB pages, populated in 812 / 790 ms (store-1 / store-2), in /dev/shm}. */
    static String describeSlabs(List<LocalCluster.SlabStart> slabs, Path dir, boolean mounted) {
        List<String> sizes = slabs.stream().map(LocalCluster.SlabStart::pageSize).distinct().toList();
        String pages = sizes.equals(List.of("lazy")) ? "populated lazily (by the first writes)"
                : String.join(" and ", sizes) + " pages, populated in " + String.join(" / ",
                slabs.stream().map(s -> Long.toString(s.populateMillis())).toList()) + " ms";
        return pages + " (" + String.join(" / ", slabs.stream().map(LocalCluster.SlabStart::node).toList()) + "), in "
                + (dir == null ? "the store nodes' default directory" : dir.toString())
                + (mounted ? " (a tmpfs with huge=always, unmounted at the end)" : "");
    }

    /** A tmpfs with huge=always, of the store's size, for --huge-pages. */
    private HugeTmpfs mountHugeTmpfs(ModelProfile profile) {
        int nodes = sidecar ? 2 : storeNodes;
        long bytes = capacityBlocks * profile.blockBytes() + (nodes + 1) * dev.ferry.nativemem.Slab.HUGE_PAGE_BYTES;
        try {
            return HugeTmpfs.mount(Path.of(System.getProperty("java.io.tmpdir")), bytes);
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException("--huge-pages: " + e.getMessage());
        }
    }

    /** {@code 3s}, {@code 1.5s}, {@code 500ms} or a bare number of seconds, in ms. */
    static long durationMillis(String option, String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        try {
            double ms = t.endsWith("ms") ? Double.parseDouble(t.substring(0, t.length() - 2))
                    : t.endsWith("s") ? Double.parseDouble(t.substring(0, t.length() - 1)) * 1000
                    : Double.parseDouble(t) * 1000;
            if (ms >= 1 && ms <= 3_600_000) {
                return Math.round(ms);
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new IllegalArgumentException(option + " takes a duration such as 3s or 500ms (1 ms to 1 h), not '"
                + text + "'");
    }

    /**
     * The roles of a cluster without sidecars, in start order: with several masters, etcd's
     * host and one per master.
     */
    private List<String> roles() {
        List<String> roles = new java.util.ArrayList<>();
        if (masters == 1) {
            roles.add("master");
        } else {
            roles.add(LocalCluster.ETCD_ROLE);
            for (int i = 1; i <= masters; i++) {
                roles.add("master-" + i);
            }
        }
        for (int i = 1; i <= storeNodes; i++) {
            roles.add("store-" + i);
        }
        roles.addAll(List.of("decode", "prefill"));
        return roles;
    }

    /** What the engines' GPU tiers run on: the device memory that {@code auto} opens on this machine. */
    private static String gpuDevice() {
        try (DeviceMemory memory = DeviceMemories.open(DeviceChoice.AUTO, 0, 1)) {
            return memory.describe().replaceFirst(", 1 bytes", "");
        }
    }

    /** @param gpuHits blocks served by decode's GPU tier, or -1 when there is none */
    private static void printStore(MasterStats store, long gpuHits) {
        if (gpuHits < 0) {
            System.out.printf(Locale.ROOT, "  %-18s DRAM %d, SSD %d (prefix lookups; no GPU tier: --gpu-capacity 0)%n",
                    "hits per tier", store.dramHits(), store.ssdHits());
        } else {
            System.out.printf(Locale.ROOT, "  %-18s GPU %d (blocks decode's GPU tier served, no transfer); DRAM %d, "
                    + "SSD %d (prefix lookups, as the master counts them)%n", "hits per tier", gpuHits, store.dramHits(),
                    store.ssdHits());
        }
        System.out.printf(Locale.ROOT, "  %-18s %d demoted to SSD, %d promoted to DRAM, %d evicted%n", "tier moves",
                store.demotions(), store.promotions(), store.evictions());
        if (store.demotionWaits() > 0) {
            System.out.printf(Locale.ROOT, "  %-18s %d puts waited for demotion (DRAM full)%n", "write stalls",
                    store.demotionWaits());
        }
        if (store.corruptCopies() > 0) {
            System.out.printf(Locale.ROOT, "  %-18s %d copies failed their CRC32C in a slab: dropped, never served%n",
                    "corrupt copies", store.corruptCopies());
        }
    }

    private List<RequestResult> replay(LocalCluster cluster, List<TraceRequest> trace) throws InterruptedException {
        Replay replay = new Replay(cluster.prefill(), timeScale, concurrency, 120_000, cluster.clientSecurity());
        if (noProgress) {
            return replay.run(trace, r -> { }, cluster::broken);
        }
        try (ProgressReporter progress = new ProgressReporter("replay", trace.size())) {
            return replay.run(trace, progress::step, cluster::broken);
        }
    }

    private void checkCapacity(ModelProfile profile, List<TraceRequest> trace) throws IOException {
        TraceRequest largest = trace.stream().max((a, b) -> Integer.compare(a.blockKeys().length,
                b.blockKeys().length)).orElseThrow();
        if (capacityBlocks < largest.blockKeys().length) {
            throw new IllegalArgumentException("capacity of " + capacityBlocks + " blocks is smaller than request "
                    + largest.index() + " of the trace, which has " + largest.blockKeys().length + " blocks");
        }
        long bytes = capacityBlocks * profile.blockBytes();
        Path shm = slabDir != null ? slabDir : Path.of(System.getenv().getOrDefault("FERRY_SLAB_DIR", "/dev/shm"));
        if (Files.isDirectory(shm) && Files.getFileStore(shm).getUsableSpace() < bytes) {
            throw new IllegalArgumentException(String.format("capacity of %d blocks needs %.2f GB in %s, which "
                    + "has %.2f GB free: lower --capacity-blocks or pick a smaller --model", capacityBlocks, bytes / 1e9,
                    shm, Files.getFileStore(shm).getUsableSpace() / 1e9));
        }
    }
}
