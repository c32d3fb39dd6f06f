package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.cli.FerryCommand;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGINT (Ctrl-C) to a running {@code ferry cluster} stops it and every process it started. */
public class CtrlCTest {
    /**
     * Whether this JVM inherited SIGINT as ignored (a background job of a non-interactive
     * shell): its children would ignore it too, as a terminal's Ctrl-C never reaches them.
     */
    public static boolean sigintIgnored() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("SigIgn:")) {
                return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << 1)) != 0;
            }
        }
        return false;
    }

    @Test
    void interruptingTheReplayStopsEveryProcess(@TempDir Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.exists(Path.of("/proc/self/status")),
                "needs Linux /proc");
        org.junit.jupiter.api.Assumptions.assumeFalse(sigintIgnored(),
                "SIGINT is ignored in this process (started as a background job), so its children ignore it too");
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(LocalCluster.childJvmFlags());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FerryCommand.class.getName(), "cluster",
                "--model", "qwen2.5-0.5b", "--requests", "500", "--capacity-blocks", "300", "--no-progress",
                "--out", dir.toString()));
        Process ferry = new ProcessBuilder(command).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(ferry.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null && !line.contains("started ")) {
                // wait until the cluster is up and the replay runs
            }
            assertThat(line).as("the cluster started").isNotNull();
            TimeUnit.SECONDS.sleep(2);
            List<ProcessHandle> children = ferry.descendants().toList();
            assertThat(children).hasSizeGreaterThanOrEqualTo(5);
            new ProcessBuilder("kill", "-INT", Long.toString(ferry.pid())).start().waitFor();
            Thread.ofPlatform().daemon().start(() -> out.lines().forEach(l -> { }));
            assertThat(ferry.waitFor(30, TimeUnit.SECONDS)).as("ferry exits").isTrue();
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100))
                    .untilAsserted(() -> assertThat(children).noneMatch(ProcessHandle::isAlive));
        } finally {
            ferry.destroyForcibly();
        }
    }
}
