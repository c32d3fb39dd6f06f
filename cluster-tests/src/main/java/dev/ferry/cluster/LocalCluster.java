package dev.ferry.cluster;

import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.node.ProcessSupport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A prefill/decode cluster on loopback, one JVM process per role: a master, store nodes
 * (each maps a DRAM slab under {@code /dev/shm} and registers it as a segment), a decode
 * node and a prefill node. Ports are chosen free by each process and read from its
 * {@code FERRY-READY} line; each process's output goes to {@code <role>.log} in the work
 * directory. Processes stop when the cluster is closed, when the parent JVM exits (their
 * stdin closes), and on Ctrl-C (a shutdown hook closes the cluster).
 *
 * <p>Thread-safe for {@link #close()}; start and use it from one thread.
 */
public final class LocalCluster implements AutoCloseable {
    /** Longest wait for a process to print its ready line, s. */
    private static final long START_TIMEOUT_SECONDS = 60;

    private final Config config;
    private final List<Role> roles = new ArrayList<>();
    private final Thread shutdownHook = new Thread(this::close, "ferry-cluster-shutdown");
    private HostPort master;
    private HostPort prefill;
    private volatile boolean closed;

    /**
     * What to start.
     *
     * @param profile        model profile (block size)
     * @param capacityBlocks store capacity in blocks, split over the store nodes
     * @param storeNodes     store node processes
     * @param links          TCP links per peer in prefill and decode
     * @param sharedMemory   whether prefill and decode reach store nodes through shared
     *                       memory instead of TCP
     * @param workDir        where logs go
     */
    public record Config(ModelProfile profile, long capacityBlocks, int storeNodes, int links, boolean sharedMemory,
                         Path workDir) {
        /** Over TCP. */
        public Config(ModelProfile profile, long capacityBlocks, int storeNodes, int links, Path workDir) {
            this(profile, capacityBlocks, storeNodes, links, false, workDir);
        }
    }

    private LocalCluster(Config config) {
        this.config = config;
    }

    /**
     * Starts every process and waits until each is ready.
     *
     * @throws IllegalStateException naming the role and the tail of its log when a process
     *                               fails to start; what was started is stopped
     */
    public static LocalCluster start(Config config) {
        LocalCluster cluster = new LocalCluster(config);
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
        Role m = launch("master", "dev.ferry.store.node.MasterMain", List.of("--port", "0"));
        master = new HostPort("127.0.0.1", Integer.parseInt(m.field("port")));
        List<Role> stores = new ArrayList<>();
        long blockBytes = config.profile().blockBytes();
        for (int i = 0; i < config.storeNodes(); i++) {
            // Node i holds its share of the capacity; the shares add up to exactly capacityBlocks.
            long blocks = config.capacityBlocks() / config.storeNodes()
                    + (i < config.capacityBlocks() % config.storeNodes() ? 1 : 0);
            stores.add(launchAsync("store-" + (i + 1), "dev.ferry.store.node.StoreNodeMain", List.of(
                    "--node-id", "store-" + (i + 1), "--master", master.toString(),
                    "--capacity-bytes", Long.toString(Math.max(1, blocks) * blockBytes))));
        }
        stores.forEach(Role::awaitReady);
        String model = config.profile().name();
        List<String> decodeArgs = new ArrayList<>(List.of("--master", master.toString(), "--model", model,
                "--links", Integer.toString(config.links())));
        if (config.sharedMemory()) {
            decodeArgs.add("--shared-memory");
        }
        Role decode = launch("decode", "dev.ferry.decode.DecodeMain", decodeArgs);
        List<String> prefillArgs = new ArrayList<>(List.of("--master", master.toString(),
                "--decode", "127.0.0.1:" + decode.field("port"), "--model", model,
                "--links", Integer.toString(config.links())));
        if (config.sharedMemory()) {
            prefillArgs.add("--shared-memory");
        }
        Role p = launch("prefill", "dev.ferry.prefill.PrefillMain", prefillArgs);
        prefill = new HostPort("127.0.0.1", Integer.parseInt(p.field("port")));
    }

    /** The master's RPC address. */
    public HostPort master() {
        return master;
    }

    /** The prefill node's RPC address, where requests are submitted. */
    public HostPort prefill() {
        return prefill;
    }

    /** Kills store node {@code index} (0-based) with SIGKILL, as a crash would. */
    public void killStoreNode(int index) {
        roles.stream().filter(r -> r.name.equals("store-" + (index + 1))).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no store node " + index))
                .process.destroyForcibly();
    }

    /** Whether every process is still alive. */
    public boolean allAlive() {
        return roles.stream().allMatch(r -> r.process.isAlive());
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
    }

    private Role launch(String name, String mainClass, List<String> args) {
        Role role = launchAsync(name, mainClass, args);
        role.awaitReady();
        return role;
    }

    private Role launchAsync(String name, String mainClass, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(childJvmFlags());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(args);
        Path log = config.workDir().resolve(name + ".log");
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            Role role = new Role(name, process, log);
            roles.add(role);
            return role;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + name + ": " + e.getMessage(), e);
        }
    }

    /** The flags this JVM was started with that every Ferry process needs (from jvm.properties). */
    static List<String> childJvmFlags() {
        List<String> flags = new ArrayList<>();
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("--enable-native-access")
                    || arg.startsWith("--sun-misc") || arg.startsWith("-Dchronicle") || arg.startsWith("-Dio.netty")) {
                flags.add(arg);
            }
        }
        flags.add("-Xmx384m");
        flags.add("-XX:+UseSerialGC");
        flags.add("-XX:TieredStopAtLevel=4");
        return flags;
    }

    /** One process: its output pump, ready line and log. */
    private static final class Role {
        final String name;
        final Process process;
        final CompletableFuture<String> ready = new CompletableFuture<>();
        final Deque<String> tail = new ArrayDeque<>();

        Role(String name, Process process, Path log) {
            this.name = name;
            this.process = process;
            Thread pump = new Thread(() -> pump(log), "ferry-log-" + name);
            pump.setDaemon(true);
            pump.start();
        }

        private void pump(Path log) {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8)); PrintWriter out = new PrintWriter(Files.newBufferedWriter(log))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.startsWith(ProcessSupport.READY)) {
                        ready.complete(line);
                    }
                    out.println(line);
                    out.flush();
                    synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > 8) {
                            tail.removeFirst();
                        }
                    }
                }
            } catch (IOException ignored) {
                // the process is gone
            }
            ready.completeExceptionally(new IllegalStateException(name + " exited (code "
                    + exitCode() + ") before it was ready: " + tail()));
        }

        private String exitCode() {
            try {
                return process.waitFor(2, TimeUnit.SECONDS) ? Integer.toString(process.exitValue()) : "still running";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "?";
            }
        }

        String tail() {
            synchronized (tail) {
                return String.join(" | ", tail);
            }
        }

        void awaitReady() {
            try {
                ready.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
            } catch (TimeoutException e) {
                throw new IllegalStateException(name + " was not ready within " + START_TIMEOUT_SECONDS + " s: "
                        + tail());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while starting " + name);
            }
        }

        /** The value of {@code key=value} in the ready line. */
        String field(String key) {
            for (String part : ready.join().split(" ")) {
                if (part.startsWith(key + "=")) {
                    return part.substring(key.length() + 1);
                }
            }
            throw new IllegalStateException(name + " ready line lacks " + key + ": " + ready.join());
        }

        void stop() {
            try {
                process.getOutputStream().close();
            } catch (IOException ignored) {
                // already closed
            }
            process.destroy();
        }

        void awaitExit() {
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
    }
}
