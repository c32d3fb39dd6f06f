package dev.ferry.store.coord;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A single-member etcd server on loopback for tests and benchmarks: free ports, its data in a
 * directory of the caller's, its output in a log file beside it. Stopping and starting it
 * again keeps the data (an outage). The binary is Debian's {@code etcd-server} (installed by
 * {@code .ci/run}); without it {@link #start} fails, naming the package. Not for production:
 * run etcd as its own service there. Not thread-safe; close it (its data directory goes).
 */
public final class LocalEtcd implements AutoCloseable {
    private final Path dataDir;
    private final int clientPort;
    private final int peerPort;
    private final Path log;
    /** A TLS directory (ca.pem, cert.pem, key.pem) of etcd's own certificate, or null for plain http. */
    private final Path tlsDir;
    /** The address it listens on and advertises to clients. */
    private final String host;
    /** What its command line starts with, e.g. {@code ip netns exec NS}; empty to run it here. */
    private final List<String> prefix;
    private Process process;

    private LocalEtcd(Path dataDir, Path tlsDir, String host, List<String> prefix) throws IOException {
        this.dataDir = dataDir;
        this.tlsDir = tlsDir;
        this.host = host;
        this.prefix = List.copyOf(prefix);
        this.clientPort = freePort();
        this.peerPort = freePort();
        this.log = dataDir.resolveSibling(dataDir.getFileName() + ".log");
    }

    /**
     * Starts etcd with its data under {@code dir} and waits until it serves.
     *
     * @throws IllegalStateException when there is no etcd binary, or it does not serve within 30 s
     */
    public static LocalEtcd start(Path dir) throws IOException {
        return start(dir, null, "127.0.0.1", List.of());
    }

    /**
     * Starts etcd serving https with mutual TLS: its certificate and key from {@code tlsDir}
     * ({@code --cert-file}, {@code --key-file}), and clients must show a certificate of the CA
     * there ({@code --trusted-ca-file}, {@code --client-cert-auth}).
     *
     * @throws IllegalStateException when there is no etcd binary, or it does not serve within 30 s
     */
    public static LocalEtcd startTls(Path dir, Path tlsDir) throws IOException {
        return start(dir, tlsDir, "127.0.0.1", List.of());
    }

    /**
     * Starts etcd listening for clients on {@code host} (its peer port stays on its own
     * loopback), its command line preceded by {@code prefix}, e.g. {@code ip netns exec NS}
     * to run it in a network namespace whose address {@code host} is; with {@code tlsDir}
     * as {@link #startTls} (the certificate there must name {@code host}), else plain http.
     * Its client port is picked free in this process's namespace. When it does not come up,
     * what was started is stopped and its data directory removed.
     *
     * @param tlsDir etcd's TLS directory (ca.pem, cert.pem, key.pem), or null for plain http
     * @throws IllegalStateException when there is no etcd binary, or it does not serve within 30 s
     */
    public static LocalEtcd start(Path dir, Path tlsDir, String host, List<String> prefix) throws IOException {
        LocalEtcd etcd = new LocalEtcd(dir.resolve("etcd-" + System.nanoTime()), tlsDir, host, prefix);
        boolean started = false;
        try {
            etcd.start();
            started = true;
            return etcd;
        } finally {
            if (!started) {
                etcd.close();
            }
        }
    }

    /**
     * The path of the etcd binary: the first {@code etcd} on the PATH, else Debian's.
     *
     * @throws IllegalStateException naming the package to install when there is none
     */
    public static String binary() {
        List<String> candidates = new java.util.ArrayList<>();
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty()) {
                candidates.add(Path.of(dir, "etcd").toString());
            }
        }
        candidates.add("/usr/bin/etcd");
        for (String candidate : candidates) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no etcd binary (/usr/bin/etcd): install Debian's etcd-server "
                + "(apt-get install etcd-server; .ci/run does)");
    }

    /**
     * Starts (again) and waits until it answers, 30 s at most.
     *
     * @throws IllegalStateException when it exits or does not answer in time
     */
    public void start() throws IOException {
        if (process != null && process.isAlive()) {
            return;
        }
        String peer = "http://127.0.0.1:" + peerPort;
        String client = uri().toString();
        List<String> command = new java.util.ArrayList<>(prefix);
        command.addAll(List.of(binary(), "--name", "test", "--data-dir",
                dataDir.toString(), "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "test=" + peer, "--log-level", "warn"));
        dev.ferry.transfer.tls.PortSecurity security = dev.ferry.transfer.tls.PortSecurity.loopbackOnly();
        if (tlsDir != null) {
            command.addAll(List.of("--cert-file", tlsDir.resolve("cert.pem").toString(), "--key-file",
                    tlsDir.resolve("key.pem").toString(), "--trusted-ca-file", tlsDir.resolve("ca.pem").toString(),
                    "--client-cert-auth"));
            security = dev.ferry.transfer.tls.PortSecurity.tls(dev.ferry.transfer.tls.TlsConfig.fromDir(tlsDir));
        }
        process = new ProcessBuilder(command)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (EtcdClient probe = new EtcdClient(List.of(uri()), Duration.ofSeconds(1), security)) {
            while (true) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("etcd exited: " + Files.readString(log));
                }
                try {
                    probe.get("/probe");
                    return;
                } catch (EtcdException notYet) {
                    if (System.nanoTime() - deadline >= 0) {
                        throw new IllegalStateException("etcd on " + uri() + " does not answer after 30 s (log " + log
                                + ")", notYet);
                    }
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while starting etcd");
                }
            }
        }
    }

    /** Stops it (SIGKILL), keeping its data. */
    public void stop() {
        if (process != null) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Its client URL. */
    public URI uri() {
        return URI.create((tlsDir == null ? "http" : "https") + "://" + address());
    }

    /** Its client address, {@code host:port} ({@code 127.0.0.1:port} unless started on another host). */
    public String address() {
        return host + ":" + clientPort;
    }

    /** Whether clients reach it over TLS ({@code https}). */
    public boolean isTls() {
        return tlsDir != null;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() {
        stop();
        deleteTree(dataDir.toFile());
    }

    private static void deleteTree(File f) {
        File[] children = f.listFiles();
        if (children != null) {
            for (File c : children) {
                deleteTree(c);
            }
        }
        f.delete();
    }
}
