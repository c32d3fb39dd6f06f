package dev.ferry.cluster;

import dev.ferry.cluster.report.TrafficReport;
import dev.ferry.store.handoff.TrafficProtocol;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.transfer.metrics.LinkTraffic;
import dev.ferry.store.server.MasterMain;
import dev.ferry.store.server.SidecarMain;
import dev.ferry.store.server.StoreNodeMain;
import dev.ferry.store.tier.SsdTier;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A prefill/decode cluster, one JVM process per role, on loopback or each role on a host of
 * its own ({@link ClusterHosts}: network namespaces on a bridge, where every process binds
 * and advertises its own address): a master, store nodes
 * (each maps a DRAM slab under {@code /dev/shm} and registers it as a segment), a decode
 * node and a prefill node. With {@link Config#sidecar()} the store nodes are two sidecars
 * ({@code ferry sidecar}), one next to prefill and one next to decode, and those two nodes
 * reach the store only through their own sidecar's Unix socket and shared memory, as an
 * inference engine would: prefill's blocks go to its sidecar's segment while it has room,
 * and decode's sidecar pulls them over its transfer engine. Ports are chosen free by each process and read from its
 * {@code FERRY-READY} line; each process's output goes to {@code <role>.log} in the work
 * directory. Processes stop when the cluster is closed, when the parent JVM exits (their
 * stdin closes), and on Ctrl-C (a shutdown hook closes the cluster). A process that exits
 * on its own (a crash, a kill from outside) is recorded ({@link #deaths()}); the master,
 * prefill or decode among them means the cluster can no longer serve ({@link #broken()}).
 *
 * <p>Thread-safe for {@link #close()}; start and use it from one thread.
 */
public final class LocalCluster implements AutoCloseable {
    /** The cluster id of the masters in etcd, with several masters. */
    public static final String CLUSTER_ID = "ferry";
    /** The role whose host runs the masters' etcd, with several masters on hosts of their own. */
    public static final String ETCD_ROLE = "etcd";
    private final Config config;
    private final ClusterHosts hosts;
    /** Master processes: 1 (no etcd), or several electing a leader in a local etcd. */
    private final int masters;
    private final List<ChildProcess> masterRoles = new java.util.concurrent.CopyOnWriteArrayList<>();
    private dev.ferry.store.coord.LocalEtcd etcd;
    /** What the other processes are given as {@code --master}: {@code host:port} or {@code etcd://...}. */
    private String masterAddress;
    private final List<ChildProcess> roles = new ArrayList<>();
    private final List<Path> slabFiles = new ArrayList<>();
    private final List<SlabStart> slabs = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Where the sidecars' sockets are: a short path, as a Unix socket's must be. */
    private Path socketDir;
    private final Thread shutdownHook = new Thread(this::close, "ferry-cluster-shutdown");
    private HostPort master;
    private HostPort prefill;
    private HostPort decode;
    /** Where the master and each store node serve /metrics, by role, in start order. */
    private final Map<String, HostPort> metrics = new java.util.concurrent.ConcurrentSkipListMap<>();
    private volatile boolean closed;
    /** Roles that exited without being asked, in the order they did: "the master (pid N, exit code 137...)". */
    private final List<String> deaths = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean coreRoleDied;
    /** Masters of several that exited without being asked while another lived: "master-2 (pid N, ...)". */
    private final List<String> failovers = new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * What to start.
     *
     * @param profile        model profile (block size)
     * @param capacityBlocks store capacity in blocks, split over the store nodes
     * @param storeNodes     store node processes
     * @param links          TCP links per peer in prefill and decode
     * @param transport      how prefill and decode reach the store nodes: {@code tcp},
     *                       {@code shm} (shared memory) or {@code aeron} (Aeron UDP)
     * @param policy         the master's eviction policy ({@code lru}, {@code s3fifo})
     * @param masterPort     the master's RPC port; 0 picks a free one
     * @param replicas       copies prefill writes of each block, on different store nodes
     *                       (each copy takes its own room out of the capacity)
     * @param ssdBlocks      SSD tier capacity in blocks, split over the store nodes; 0 for
     *                       DRAM only
     * @param workDir        where logs go (and the SSD tiers' RocksDB directories)
     * @param sidecar        whether prefill and decode each reach the store through a sidecar
     *                       of their own, the two sidecars being the store nodes (then
     *                       {@code storeNodes} must be 2, {@code replicas} 1, no SSD tier,
     *                       and the transport tcp or shm)
     * @param stallTimeoutMillis how long prefill's and decode's transfer engines wait for
     *                       progress on a link before they cut it and resend its slices, ms;
     *                       0 for the engine's default
     * @param gpuBytes       the GPU tier of prefill and decode each (their engines' GPU memory in
     *                       front of the store: CUDA when present, else host memory standing in),
     *                       bytes; 0 for none
     * @param slabDir        where store nodes and sidecars put their slab files (a tmpfs; one
     *                       mounted with {@code huge=always} gives them 2 MiB pages), or null
     *                       for theirs: {@code $FERRY_SLAB_DIR}, else /dev/shm
     */
    public record Config(ModelProfile profile, long capacityBlocks, int storeNodes, int links, String transport,
                         String policy, int masterPort, int replicas, long ssdBlocks, Path workDir, boolean sidecar,
                         long stallTimeoutMillis, long gpuBytes, Path slabDir) {
        /**
         * @throws IllegalArgumentException for a sidecar cluster the sidecars cannot run, or a GPU
         *                                  tier with sidecars or of a negative size
         */
        public Config {
            if (sidecar && (storeNodes != 2 || replicas != 1 || ssdBlocks > 0 || transport.equals("aeron"))) {
                throw new IllegalArgumentException("with sidecars the store nodes are the two sidecars, each block has "
                        + "one copy, there is no SSD tier and the transport is tcp or shm");
            }
            if (stallTimeoutMillis != 0 && stallTimeoutMillis < 4) {
                throw new IllegalArgumentException("the stall timeout is at least 4 ms (0 for the default): "
                        + stallTimeoutMillis);
            }
            if (gpuBytes < 0 || (sidecar && gpuBytes > 0)) {
                throw new IllegalArgumentException("the GPU tier is 0 (none) or a size, and not with sidecars (the "
                        + "engine behind a sidecar keeps its GPU memory itself), was " + gpuBytes + " bytes");
            }
        }

        /** This configuration with the slab files in {@code dir} (null: the store nodes' default). */
        public Config withSlabDir(Path dir) {
            return new Config(profile, capacityBlocks, storeNodes, links, transport, policy, masterPort, replicas,
                    ssdBlocks, workDir, sidecar, stallTimeoutMillis, gpuBytes, dir);
        }

        /** With the slab files where the store nodes put them by default. */
        public Config(ModelProfile profile, long capacityBlocks, int storeNodes, int links, String transport,
                      String policy, int masterPort, int replicas, long ssdBlocks, Path workDir, boolean sidecar,
                      long stallTimeoutMillis, long gpuBytes) {
            this(profile, capacityBlocks, storeNodes, links, transport, policy, masterPort, replicas, ssdBlocks, workDir,
                    sidecar, stallTimeoutMillis, gpuBytes, null);
        }

        /** With the engines' default stall timeout and no GPU tier. */
        public Config(ModelProfile profile, long capacityBlocks, int storeNodes, int links, String transport,
                      String policy, int masterPort, int replicas, long ssdBlocks, Path workDir, boolean sidecar) {
            this(profile, capacityBlocks, storeNodes, links, transport, policy, masterPort, replicas, ssdBlocks, workDir,
                    sidecar, 0, 0);
        }

        /** With a free master port, one replica, no SSD tier, no sidecars. */
        public Config(ModelProfile profile, long capacityBlocks, int storeNodes, int links, String transport,
                      String policy, Path workDir) {
            this(profile, capacityBlocks, storeNodes, links, transport, policy, 0, 1, 0, workDir, false);
        }

        /** Over TCP, with LRU, no sidecars. */
        public Config(ModelProfile profile, long capacityBlocks, int storeNodes, int links, Path workDir) {
            this(profile, capacityBlocks, storeNodes, links, "tcp", "lru", 0, 1, 0, workDir, false);
        }
    }

    private LocalCluster(Config config, ClusterHosts hosts, int masters, boolean insecure) {
        this.config = config;
        this.hosts = hosts;
        this.masters = masters;
        this.insecure = insecure;
    }

    /** Whether its roles talk plain TCP beyond loopback ({@code --insecure-no-tls}) rather than mutual TLS. */
    private final boolean insecure;
    /** How this process reaches the roles: mutual TLS when they are on hosts of their own, unless insecure. */
    private dev.ferry.transfer.tls.PortSecurity security = dev.ferry.transfer.tls.PortSecurity.loopbackOnly();

    /**
     * How a client of this process reaches the cluster's roles (its own certificate of the
     * cluster's CA when they run on hosts of their own): for {@link Replay}.
     */
    public dev.ferry.transfer.tls.PortSecurity clientSecurity() {
        return security;
    }

    /**
     * With the roles on hosts of their own, each gets its TLS flags: {@code --tls-dir} of a
     * certificate of a CA made in the work directory ({@code tls/}), or {@code --insecure-no-tls}.
     */
    private List<String> withSecurity(String role, List<String> args) {
        if (hosts.oneHost()) {
            return args;
        }
        List<String> all = new ArrayList<>(args);
        if (insecure) {
            all.add("--insecure-no-tls");
        } else {
            Path dir = config.workDir().resolve("tls");
            all.addAll(List.of("--tls-dir", dev.ferry.transfer.tls.ClusterCa.openOrCreate(dir, "ferry-cluster-ca")
                    .issue(dir.resolve(role), role, List.of(hosts.address(role))).toString()));
        }
        return all;
    }

    private void startSecurity() {
        if (hosts.oneHost()) {
            // The roles inherit $FERRY_TLS_DIR (their --tls-dir default): then this process speaks TLS to them too.
            String inherited = System.getenv("FERRY_TLS_DIR");
            if (inherited != null && !inherited.isBlank()) {
                security = dev.ferry.transfer.tls.PortSecurity.tls(dev.ferry.transfer.tls.TlsConfig.fromDir(
                        Path.of(inherited)));
            }
            return;
        }
        if (insecure) {
            security = dev.ferry.transfer.tls.PortSecurity.insecure();
            return;
        }
        Path dir = config.workDir().resolve("tls");
        security = dev.ferry.transfer.tls.PortSecurity.tls(dev.ferry.transfer.tls.TlsConfig.fromDir(
                dev.ferry.transfer.tls.ClusterCa.openOrCreate(dir, "ferry-cluster-ca").issue(dir.resolve("client"),
                        "client", List.of())));
    }

    /**
     * Starts every process and waits until each is ready.
     *
     * @throws IllegalStateException naming the role and the tail of its log when a process
     *                               fails to start; what was started is stopped
     */
    public static LocalCluster start(Config config) {
        return start(config, ClusterHosts.loopback(), 1);
    }

    /**
     * Starts every process on its host, with one master, and waits until each is ready.
     *
     * @see #start(Config, ClusterHosts, int)
     */
    public static LocalCluster start(Config config, ClusterHosts hosts) {
        return start(config, hosts, 1);
    }

    /**
     * Starts every process on loopback, with {@code masters} master processes.
     *
     * @see #start(Config, ClusterHosts, int)
     */
    public static LocalCluster start(Config config, int masters) {
        return start(config, ClusterHosts.loopback(), masters);
    }

    /**
     * Starts every process on its host and waits until each is ready, with {@code masters}
     * master processes: with more than one, a local etcd ({@link dev.ferry.store.coord.LocalEtcd},
     * Debian's {@code etcd-server}) first, the masters electing a leader in it under
     * {@link #CLUSTER_ID} (lease TTL 5 s), and every other process given
     * {@code --master etcd://HOST:PORT/ferry}, so that it follows the leader across failovers.
     * On hosts of their own, etcd runs on the host of role {@value #ETCD_ROLE} and master
     * {@code N} on that of {@code master-N} (the hosts must have those roles), etcd over
     * mutual TLS ({@code etcd+https://}) unless insecure. The cluster owns {@code hosts} and closes them after its processes have stopped (also
     * when the start fails).
     *
     * @throws IllegalArgumentException when {@code masters} is below 1, for sidecars on hosts
     *                                  of their own (a sidecar serves an engine on its host
     *                                  through a Unix socket)
     * @throws IllegalStateException    naming the role and the tail of its log when a process
     *                                  fails to start, or when etcd is missing; what was
     *                                  started is stopped
     */
    public static LocalCluster start(Config config, ClusterHosts hosts, int masters) {
        return start(config, hosts, masters, false);
    }

    /**
     * As {@link #start(Config, ClusterHosts, int)}; roles on hosts of their own authenticate
     * each other with mutual TLS (a CA made in the work directory), or, when {@code insecure},
     * talk plain TCP and may use Aeron UDP.
     */
    public static LocalCluster start(Config config, ClusterHosts hosts, int masters, boolean insecure) {
        String refused = masters < 1 ? "masters must be at least 1, not " + masters
                : config.sidecar() && !hosts.oneHost() ? "sidecars run only with every role on one host"
                : null;
        if (refused != null) {
            hosts.close();
            throw new IllegalArgumentException(refused);
        }
        LocalCluster cluster = new LocalCluster(config, hosts, masters, insecure);
        Runtime.getRuntime().addShutdownHook(cluster.shutdownHook);
        try {
            cluster.startAll();
            return cluster;
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    private void startAll() {
        try {
            Files.createDirectories(config.workDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + config.workDir(), e);
        }
        startSecurity();
        startMasters();
        if (config.sidecar()) {
            startWithSidecars();
            return;
        }
        List<ChildProcess> stores = new ArrayList<>();
        long blockBytes = config.profile().blockBytes();
        for (int i = 0; i < config.storeNodes(); i++) {
            String role = "store-" + (i + 1);
            List<String> args = new ArrayList<>(List.of("--node-id", role, "--master", masterAddress,
                    "--capacity", Long.toString(share(config.capacityBlocks(), i) * blockBytes),
                    "--metrics-port", "0"));
            List<String> addresses = hosts.addresses(role);
            if (addresses.size() == 1) {
                args.addAll(List.of("--data", addresses.getFirst() + ":0"));
            } else { // one endpoint per link of its host: peers open links to each
                args.addAll(List.of("--data", "0.0.0.0:0", "--advertise", String.join(",", addresses)));
            }
            if (config.transport().equals("aeron")) {
                args.add("--aeron");
            }
            args.addAll(slabDirFlag());
            if (config.ssdBlocks() > 0) {
                args.addAll(List.of("--ssd-dir", config.workDir().resolve("store-" + (i + 1) + "-ssd").toString(),
                        // Room for that many blocks on top of RocksDB's own reserve.
                        "--ssd-capacity", Long.toString(SsdTier.diskBytesFor(share(config.ssdBlocks(), i) * blockBytes)),
                        "--ssd-policy", config.policy(), "--heartbeat-ms", "50"));
            }
            stores.add(launchAsync(role, StoreNodeMain.class.getName(), args));
        }
        stores.forEach(store -> store.awaitReady(readySeconds(share(config.capacityBlocks(), 0) * blockBytes)));
        stores.forEach(store -> slabFiles.add(Path.of(store.field("file"))));
        stores.forEach(this::addSlab);
        stores.forEach(store -> metrics.put(store.name(), new HostPort(hosts.address(store.name()),
                Integer.parseInt(store.field("metrics")))));
        ChildProcess decode = launch("decode", "dev.ferry.decode.DecodeMain", nodeArgs("decode", List.of("--master",
                masterAddress)));
        startPrefill(decode, List.of("--master", masterAddress, "--replicas", Integer.toString(config.replicas())));
    }

    /**
     * One master, or a local etcd and {@link #masters} masters electing a leader in it (each
     * on a free port; {@link Config#masterPort()} is the first one's).
     */
    private void startMasters() {
        if (masters == 1) {
            ChildProcess m = launch("master", MasterMain.class.getName(), List.of("--host", hosts.address("master"),
                    "--port", Integer.toString(config.masterPort()), "--policy", config.policy(), "--metrics-port", "0"));
            masterRoles.add(m);
            master = new HostPort(hosts.address("master"), Integer.parseInt(m.field("port")));
            metrics.put("master", new HostPort(hosts.address("master"), Integer.parseInt(m.field("metrics"))));
            masterAddress = master.toString();
            return;
        }
        etcd = startEtcd();
        List<ChildProcess> started = new ArrayList<>();
        for (int i = 0; i < masters; i++) {
            String role = "master-" + (i + 1);
            List<String> args = new ArrayList<>(List.of("--port", Integer.toString(i == 0 ? config.masterPort() : 0),
                    "--policy", config.policy(), "--etcd", hosts.oneHost() ? etcd.address() : etcd.uri().toString(),
                    "--cluster-id", CLUSTER_ID, "--metrics-port", "0"));
            if (!hosts.oneHost()) {
                args.addAll(List.of("--host", hosts.address(role)));
            }
            started.add(launchAsync(role, MasterMain.class.getName(), args));
        }
        started.forEach(ChildProcess::awaitReady);
        masterRoles.addAll(started);
        started.forEach(m -> metrics.put(m.name(), new HostPort(hosts.address(m.name()),
                Integer.parseInt(m.field("metrics")))));
        masterAddress = (etcd.isTls() ? "etcd+https://" : "etcd://") + etcd.address() + "/" + CLUSTER_ID;
        master = leader();
    }

    /**
     * The masters' etcd: on loopback, or on hosts of their own in role {@code etcd}'s host
     * (its namespace, listening on its address), with a certificate of the cluster's CA for
     * that address and clients' certificates checked, unless insecure.
     */
    private dev.ferry.store.coord.LocalEtcd startEtcd() {
        try {
            if (hosts.oneHost()) {
                return dev.ferry.store.coord.LocalEtcd.start(config.workDir());
            }
            Path tlsDir = null;
            if (!insecure) {
                Path dir = config.workDir().resolve("tls");
                tlsDir = dev.ferry.transfer.tls.ClusterCa.openOrCreate(dir, "ferry-cluster-ca").issue(
                        dir.resolve(ETCD_ROLE), ETCD_ROLE, List.of(hosts.address(ETCD_ROLE)));
            }
            return dev.ferry.store.coord.LocalEtcd.start(config.workDir(), tlsDir, hosts.address(ETCD_ROLE),
                    hosts.prefix(ETCD_ROLE));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start etcd under " + config.workDir(), e);
        }
    }

    /**
     * Store node {@code i}'s share of {@code blocks} (at least 1); the shares add up to
     * exactly {@code blocks} when there are at least as many blocks as nodes.
     */
    private long share(long blocks, int i) {
        int nodes = config.storeNodes();
        return Math.max(1, blocks / nodes + (i < blocks % nodes ? 1 : 0));
    }

    /**
     * The two sidecars (prefill's and decode's: the store nodes, joined to the master), then
     * decode and prefill, each given only its sidecar's socket. The sidecars keep no leases
     * between reads (no lease cache: a lease pins a block against eviction) and no space
     * granted ahead of puts (it counts as used), so that the replay keeps the store's LRU order
     * exactly that of the reference replay.
     */
    private void startWithSidecars() {
        try {
            socketDir = Files.createTempDirectory("ferry-cluster-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for the sidecars' sockets", e);
        }
        List<String> sides = List.of("prefill", "decode");
        List<ChildProcess> sidecars = new ArrayList<>();
        for (int i = 0; i < sides.size(); i++) {
            List<String> args = new ArrayList<>(List.of("--socket", socket(sides.get(i)).toString(),
                    "--master", masterAddress, "--node-id", "sidecar-" + sides.get(i), "--capacity",
                    Long.toString(share(config.capacityBlocks(), i) * config.profile().blockBytes()),
                    "--lease-cache-ms", "0", "--no-grants", "--exit-on-stdin-close"));
            if (!config.transport().equals("shm")) {
                args.add("--no-shared-memory");
            }
            args.addAll(slabDirFlag());
            sidecars.add(launchAsync("sidecar-" + sides.get(i), SidecarMain.class.getName(), args));
        }
        sidecars.forEach(sidecar -> sidecar.awaitReady(readySeconds(share(config.capacityBlocks(), 0)
                * config.profile().blockBytes())));
        sidecars.forEach(sidecar -> slabFiles.add(Path.of(sidecar.field("file"))));
        sidecars.forEach(this::addSlab);
        ChildProcess decode = launch("decode", "dev.ferry.decode.DecodeMain", nodeArgs("decode", List.of("--sidecar",
                socket("decode").toString())));
        startPrefill(decode, List.of("--sidecar", socket("prefill").toString()));
    }

    private Path socket(String side) {
        return socketDir.resolve(side + ".sock");
    }

    /**
     * The arguments of prefill and decode: how they reach the store, then the model, links,
     * transport and the address they bind.
     */
    private List<String> nodeArgs(String role, List<String> store) {
        List<String> args = new ArrayList<>(store);
        args.addAll(List.of("--model", config.profile().name(), "--links", Integer.toString(config.links()),
                "--host", hosts.address(role)));
        if (config.stallTimeoutMillis() > 0) {
            args.addAll(List.of("--stall-timeout-ms", Long.toString(config.stallTimeoutMillis())));
        }
        if (config.gpuBytes() > 0) {
            args.addAll(List.of("--gpu-capacity", Long.toString(config.gpuBytes()), "--gpu-index",
                    config.workDir().resolve(role + "-gpu.index").toString()));
        }
        args.addAll(transportFlag());
        return args;
    }

    private void startPrefill(ChildProcess decode, List<String> store) {
        List<String> args = new ArrayList<>(nodeArgs("prefill", store));
        this.decode = new HostPort(hosts.address("decode"), Integer.parseInt(decode.field("port")));
        args.addAll(List.of("--decode", this.decode.toString()));
        ChildProcess p = launch("prefill", "dev.ferry.prefill.PrefillMain", args);
        prefill = new HostPort(hosts.address("prefill"), Integer.parseInt(p.field("port")));
    }

    /**
     * How a store node's (or sidecar's) slab started, from its ready line.
     *
     * @param node           the role, e.g. {@code store-1} or {@code sidecar-prefill}
     * @param file           the slab file
     * @param pageSize       {@code 2MiB}, {@code 4KiB}, or {@code lazy} when it was not populated
     * @param populateMillis time spent populating it at start, ms (0 when lazy)
     */
    public record SlabStart(String node, Path file, String pageSize, long populateMillis) {
    }

    /** The slabs of the store nodes (or sidecars), in start order; empty before they are ready. */
    public List<SlabStart> slabs() {
        return List.copyOf(slabs);
    }

    private void addSlab(ChildProcess node) {
        slabs.add(new SlabStart(node.name(), Path.of(node.field("file")), node.field("page_size"),
                Long.parseLong(node.field("populate_ms"))));
    }

    /**
     * How long a store node of a slab of {@code slabBytes} may take to start: a minute, and 30 s
     * per GiB on top for populating the slab (at most a few seconds per GiB, but far more on a
     * busy machine, or where the hypervisor backs fresh memory only when it is first touched).
     */
    static long readySeconds(long slabBytes) {
        return 60 + 30 * Math.ceilDiv(slabBytes, 1L << 30);
    }

    private List<String> slabDirFlag() {
        return config.slabDir() == null ? List.of() : List.of("--slab-dir", config.slabDir().toString());
    }

    private List<String> transportFlag() {
        return switch (config.transport()) {
            case "shm" -> List.of("--shared-memory");
            case "aeron" -> List.of("--aeron");
            default -> List.of();
        };
    }

    /**
     * Where the masters and the store nodes (not sidecars) serve {@code /metrics},
     * {@code /health} and {@code /ready} over HTTP, by role ({@code master} or
     * {@code master-N}, {@code store-N}).
     */
    public Map<String, HostPort> metricsEndpoints() {
        return Map.copyOf(metrics);
    }

    /** The master's RPC address (with several masters: the leader's when the cluster started). */
    public HostPort master() {
        return master;
    }

    /** What the processes were given as {@code --master}: {@code host:port}, or {@code etcd://HOST:PORT/ferry}. */
    public String masterAddress() {
        return masterAddress;
    }

    /**
     * The master's counts now (blocks, hits per tier, demotions, evictions): the leader's
     * with several masters.
     *
     * @throws dev.ferry.store.rpc.RpcException UNAVAILABLE at once when the master cannot be
     *                                          reached (with several: when no leader answers within 5 s)
     */
    public dev.ferry.store.master.MasterStats masterStats() {
        try (var client = new dev.ferry.store.master.MasterClient(
                dev.ferry.store.coord.MasterAddress.parse(masterAddress), 5_000, 0, security)) {
            return client.stats();
        }
    }

    /** The blocks each engine's GPU tier holds, as the engines reported them to the master (by engine name). */
    public java.util.Map<String, Long> gpuCopies() {
        try (var client = new dev.ferry.store.master.MasterClient(
                dev.ferry.store.coord.MasterAddress.parse(masterAddress), 5_000, 0, security)) {
            return client.gpuCopiesPerEngine();
        }
    }

    /**
     * The leading master's RPC address now, as etcd names it (the one master without etcd).
     *
     * @throws IllegalStateException when etcd names no leader within 30 s
     */
    public HostPort leader() {
        if (etcd == null) {
            return master;
        }
        try (var locator = new dev.ferry.store.coord.LeaderLocator(
                dev.ferry.store.coord.MasterAddress.parse(masterAddress), java.time.Duration.ofSeconds(2), security)) {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (true) {
                try {
                    var leader = locator.find();
                    if (leader.isPresent()) {
                        return new HostPort(leader.get().host(), leader.get().port());
                    }
                } catch (dev.ferry.store.coord.EtcdException e) {
                    // etcd is starting or busy: ask again
                }
                if (System.nanoTime() - deadline >= 0) {
                    throw new IllegalStateException("etcd at " + etcd.address() + " names no leader of the masters");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
            }
        }
    }

    /**
     * Kills the leading master with SIGKILL, as a crash would; a standby takes over once the
     * lease runs out.
     *
     * @return the killed master's process id
     * @throws IllegalStateException with a single master (nothing would take over)
     */
    public long killLeader() {
        if (etcd == null) {
            throw new IllegalStateException("one master: start the cluster with several to kill the leader");
        }
        String address = leader().toString();
        ChildProcess leader = masterRoles.stream().filter(m -> address.equals(m.field("address"))).findFirst()
                .orElseThrow(() -> new IllegalStateException("no running master is the leader at " + address));
        leader.kill();
        return leader.pid();
    }

    /** The decode node's RPC address. */
    public HostPort decode() {
        return decode;
    }

    /** The prefill node's RPC address, where requests are submitted. */
    public HostPort prefill() {
        return prefill;
    }

    /**
     * What the prefill and decode nodes' transfer engines carried so far, per link (empty for
     * a node that reaches the store through a sidecar: the sidecar's engine moves its bytes).
     *
     * @throws dev.ferry.store.rpc.RpcException when either node cannot be reached within 5 s
     */
    public TrafficReport traffic() {
        Map<String, List<LinkTraffic>> nodes = new LinkedHashMap<>();
        nodes.put("prefill", traffic(prefill));
        nodes.put("decode", traffic(decode));
        return TrafficReport.of(nodes);
    }

    /**
     * How far the prefill and decode nodes' transfer engines have populated their mappings of
     * the store nodes' slabs (nothing for a node behind a sidecar), keyed {@code prefill} and
     * {@code decode}.
     *
     * @throws dev.ferry.store.rpc.RpcException when either node cannot be reached within 5 s
     */
    public Map<String, dev.ferry.transfer.metrics.MappingPopulation> mappings() {
        Map<String, dev.ferry.transfer.metrics.MappingPopulation> nodes = new LinkedHashMap<>();
        nodes.put("prefill", ask(prefill, TrafficProtocol.MAPPINGS, TrafficProtocol::readMappings));
        nodes.put("decode", ask(decode, TrafficProtocol.MAPPINGS, TrafficProtocol::readMappings));
        return nodes;
    }

    private List<LinkTraffic> traffic(HostPort node) {
        return ask(node, TrafficProtocol.TRAFFIC, TrafficProtocol::read);
    }

    private <T> T ask(HostPort node, int method, java.util.function.Function<io.netty.buffer.ByteBuf, T> reader) {
        try (RpcClient client = new RpcClient(node.host(), node.port(), 5_000, new dev.ferry.store.rpc.EpochFence(),
                security)) {
            return client.call(method, b -> { }, reader);
        }
    }

    /** Kills store node {@code index} (0-based) with SIGKILL, as a crash would. */
    public void killStoreNode(int index) {
        roles.stream().filter(r -> r.name().equals("store-" + (index + 1))).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no store node " + index))
                .kill();
    }

    /** Whether every process is still alive. */
    public boolean allAlive() {
        return roles.stream().allMatch(ChildProcess::isAlive);
    }

    /** Stops every process, newest first: stdin closed and SIGTERM, then SIGKILL after 10 s. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException ignored) {
                // already shutting down
            }
        }
        for (int i = roles.size() - 1; i >= 0; i--) {
            roles.get(i).stop();
        }
        for (int i = roles.size() - 1; i >= 0; i--) {
            roles.get(i).awaitExit();
        }
        if (etcd != null) {
            etcd.close();
        }
        // A store node that was killed (a crash, a test) could not remove its slab file.
        for (Path file : slabFiles) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // nothing more to do at shutdown
            }
        }
        if (socketDir != null) {
            try (var left = Files.list(socketDir)) {
                for (Path p : left.toList()) {
                    Files.deleteIfExists(p);
                }
                Files.deleteIfExists(socketDir);
            } catch (IOException ignored) {
                // a temporary directory: nothing more to do at shutdown
            }
        }
        hosts.close();
    }

    /** Where the roles run. */
    public ClusterHosts hosts() {
        return hosts;
    }

    private ChildProcess launch(String name, String mainClass, List<String> args) {
        ChildProcess role = launchAsync(name, mainClass, args);
        role.awaitReady();
        return role;
    }

    private ChildProcess launchAsync(String name, String mainClass, List<String> args) {
        ChildProcess role = ChildProcess.start(name, hosts.prefix(name), mainClass, withSecurity(name, args),
                config.workDir().resolve(name + ".log"));
        roles.add(role);
        role.onUnexpectedExit(this::died);
        return role;
    }

    private void died(ChildProcess role) {
        if (closed) {
            return;
        }
        if (role.name().startsWith("master-") && masterRoles.stream().anyMatch(ChildProcess::isAlive)) {
            failovers.add(role.name() + " (pid " + role.pid() + ", " + role.describeExit() + ", log "
                    + config.workDir().resolve(role.name() + ".log") + ")");
            return;
        }
        String name = switch (role.name()) {
            case "master", "prefill", "decode" -> "the " + role.name();
            default -> role.name();
        };
        deaths.add(name + " (pid " + role.pid() + ", " + role.describeExit() + ", log "
                + config.workDir().resolve(role.name() + ".log") + ")");
        if (List.of("master", "prefill", "decode").contains(role.name())
                || role.name().startsWith("master-") && masterRoles.stream().noneMatch(ChildProcess::isAlive)) {
            coreRoleDied = true;
        }
    }

    /**
     * The processes that exited without being asked to (a crash, a kill from outside), in
     * order, each as one phrase: its role, pid, how it ended and its log. Empty while all
     * run. Thread-safe.
     */
    public List<String> deaths() {
        return List.copyOf(deaths);
    }

    /**
     * The masters of several that exited without being asked to while another master lived
     * (a standby takes over: the cluster serves on), each as in {@link #deaths()}, which does
     * not list them. Thread-safe.
     */
    public List<String> failovers() {
        return List.copyOf(failovers);
    }

    /**
     * Whether the master, prefill or decode process exited on its own: no request can be
     * served any more (a store node that dies costs only its blocks). Thread-safe.
     */
    public boolean broken() {
        return coreRoleDied;
    }

    /**
     * The flags this JVM was started with that every Ferry process needs (from jvm.properties),
     * its ahead-of-time cache when it has one ({@code ./ferry aot-cache}: children map the same
     * classes, and the JVM drops what their GC cannot use), and the default warm-up budget when
     * set ({@code -Dferry.warmUpMillis}, as the test suite does).
     */
    public static List<String> childJvmFlags() {
        List<String> flags = new ArrayList<>();
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("--enable-native-access")
                    || arg.startsWith("--sun-misc") || arg.startsWith("-Dchronicle") || arg.startsWith("-Dio.netty")
                    || arg.startsWith("-XX:AOTCache=") || arg.startsWith("-Dferry.warmUpMillis=")) {
                flags.add(arg);
            }
        }
        flags.add("-Xmx384m");
        flags.add("-XX:+UseSerialGC");
        flags.add("-XX:TieredStopAtLevel=4");
        return flags;
    }
}
