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
import org.awaitility.Awaitility;

/**
 * A real etcd server for a test: one member on loopback, on free ports, with its data in a
 * directory of the test's own. Stopping and starting it again keeps the data (an outage).
 * The binary is Debian's {@code etcd-server} (installed by {@code .ci/run}); without it the
 * test fails, naming the package. Not thread-safe; close it.
 */
public final class EtcdProcess implements AutoCloseable {
    private final Path dataDir;
    private final int clientPort;
    private final int peerPort;
    private final Path log;
    private Process process;

    private EtcdProcess(Path dataDir) throws IOException {
        this.dataDir = dataDir;
        this.clientPort = freePort();
        this.peerPort = freePort();
        this.log = dataDir.resolveSibling(dataDir.getFileName() + ".log");
    }

    /** Starts etcd with its data under {@code dir} and waits until it serves. */
    public static EtcdProcess start(Path dir) throws IOException {
        EtcdProcess etcd = new EtcdProcess(dir.resolve("etcd-" + System.nanoTime()));
        etcd.start();
        return etcd;
    }

    /** The path of the etcd binary. */
    public static String binary() {
        for (String candidate : List.of("/usr/bin/etcd", "/usr/local/bin/etcd")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no etcd binary (/usr/bin/etcd): install Debian's etcd-server "
                + "(apt-get install etcd-server; .ci/run does)");
    }

    /** Starts (again) and waits until it answers, 30 s at most. */
    public void start() throws IOException {
        if (process != null && process.isAlive()) {
            return;
        }
        String peer = "http://127.0.0.1:" + peerPort;
        String client = "http://127.0.0.1:" + clientPort;
        process = new ProcessBuilder(binary(), "--name", "test", "--data-dir", dataDir.toString(),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "test=" + peer, "--log-level", "warn")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        try (EtcdClient probe = new EtcdClient(List.of(uri()), Duration.ofSeconds(1))) {
            Awaitility.await("etcd on " + uri() + " (log " + log + ")").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(100)).ignoreExceptions().until(() -> {
                        if (!process.isAlive()) {
                            throw new AssertionError("etcd exited: " + Files.readString(log));
                        }
                        probe.get("/probe");
                        return true;
                    });
        }
    }

    /** Stops it (SIGKILL), keeping its data. */
    public void stop() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Its client URL. */
    public URI uri() {
        return URI.create("http://127.0.0.1:" + clientPort);
    }

    /** Its client address, {@code 127.0.0.1:port}. */
    public String address() {
        return "127.0.0.1:" + clientPort;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws InterruptedException {
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
