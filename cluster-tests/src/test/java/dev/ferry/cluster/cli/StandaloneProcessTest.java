package dev.ferry.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.LocalCluster;
import dev.ferry.store.cli.ProcessSupport;
import dev.ferry.store.master.MasterClient;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code ferry master} and {@code ferry store-node} as an operator starts them: stdin at
 * /dev/null (a service manager, {@code nohup}), stopped by SIGTERM only.
 */
class StandaloneProcessTest {
    private final List<Process> started = new ArrayList<>();

    @AfterEach
    void killLeftovers() {
        started.forEach(Process::destroyForcibly);
    }

    /** Starts {@code ferry ARGS} with stdin from /dev/null; returns the process and its ready line's fields. */
    private Process ferry(List<String> readyLine, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(LocalCluster.childJvmFlags());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(FerryCommand.class.getName());
        command.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true).start();
        started.add(p);
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        for (String line; (line = out.readLine()) != null; ) {
            seen.append(line).append('\n');
            if (line.startsWith(ProcessSupport.READY)) {
                readyLine.addAll(Arrays.asList(line.split(" ")));
                Thread drain = new Thread(() -> out.lines().forEach(l -> { }));
                drain.setDaemon(true);
                drain.start();
                return p;
            }
        }
        throw new AssertionError("ferry " + String.join(" ", args) + " exited before it was ready:\n" + seen);
    }

    private static String field(List<String> fields, String key) {
        return fields.stream().filter(f -> f.startsWith(key + "=")).map(f -> f.substring(key.length() + 1))
                .findFirst().orElseThrow(() -> new AssertionError("no " + key + " in " + fields));
    }

    @Test
    void masterAndStoreNodeRunWithStdinClosedAndStopOnSigterm() throws Exception {
        List<String> masterReady = new ArrayList<>();
        Process master = ferry(masterReady, "master", "--port", "0");
        String address = "127.0.0.1:" + field(masterReady, "port");
        List<String> nodeReady = new ArrayList<>();
        Process node = ferry(nodeReady, "store-node", "--node-id", "ops-1", "--master", address,
                "--capacity", "8MiB", "--heartbeat-ms", "50");
        Path slab = Path.of(field(nodeReady, "file"));
        assertThat(slab).exists();

        // End of stdin does not stop them; they keep serving.
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
                .until(() -> master.isAlive() && node.isAlive());
        try (MasterClient client = new MasterClient("127.0.0.1", Integer.parseInt(field(masterReady, "port")), 5_000)) {
            assertThat(client.stats().nodes()).isEqualTo(1);
            assertThat(client.stats().capacityBytes()).isEqualTo(8L << 20);
        }

        node.destroy(); // SIGTERM
        assertThat(node.waitFor(15, TimeUnit.SECONDS)).as("store node stops on SIGTERM").isTrue();
        assertThat(Files.exists(slab)).as("slab file removed on a clean stop").isFalse();
        master.destroy();
        assertThat(master.waitFor(15, TimeUnit.SECONDS)).as("master stops on SIGTERM").isTrue();
    }
}
