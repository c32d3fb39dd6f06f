package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.cli.ExitCodes;
import dev.ferry.cluster.cli.FerryCommand;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.server.MasterMain;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ferry cluster} whose master is killed with SIGKILL mid-replay keeps every result it
 * got: it prints the report and writes its files for the requests that ran, names the master
 * as the process that died, and exits with {@link ExitCodes#REQUESTS_FAILED}.
 */
class MasterKillReportTest {
    private static final int REQUESTS = 3_000;

    @Test
    void aMasterKilledMidReplayLeavesTheReportOfTheRequestsThatRanAndIsNamed(@TempDir Path dir) throws Exception {
        int masterPort;
        try (ServerSocket s = new ServerSocket(0)) {
            masterPort = s.getLocalPort();
        }
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(LocalCluster.childJvmFlags());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FerryCommand.class.getName(), "cluster",
                "--model", "tiny", "--requests", Integer.toString(REQUESTS), "--capacity-blocks", "400", "--no-progress",
                "--master-port", Integer.toString(masterPort), "--out", dir.toString()));
        Process ferry = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(ferry.getInputStream(), StandardCharsets.UTF_8));
            List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
            CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> out.lines().forEach(lines::add));
            try (MasterClient master = new MasterClient("127.0.0.1", masterPort, 2_000, 0)) {
                // Some requests done: their blocks are committed.
                await().atMost(Duration.ofSeconds(120)).ignoreExceptions().until(() -> master.stats().blocks() >= 40);
            }
            ProcessHandle masterProcess = ferry.descendants()
                    .filter(p -> commandLine(p).contains(MasterMain.class.getName()))
                    .findFirst().orElseThrow();
            assertThat(masterProcess.destroyForcibly()).isTrue();
            assertThat(ferry.waitFor(120, TimeUnit.SECONDS)).as("ferry exits").isTrue();
            reader.get(10, TimeUnit.SECONDS);
            String output = String.join("\n", lines);
            assertThat(ferry.exitValue()).as(output).isEqualTo(ExitCodes.REQUESTS_FAILED);
            assertThat(lines).as(output).anyMatch(l -> l.startsWith("ferry: the master (pid " + masterProcess.pid())
                    && l.contains("killed by SIGKILL") && l.contains("died during the replay"));
            assertThat(output).contains("Results");
            for (String file : List.of("requests.csv", "requests.arrow", "summary.json", "ttft.png", "ttft-cdf.png")) {
                assertThat(dir.resolve(file)).as(output).exists();
            }
            List<String> rows = Files.readAllLines(dir.resolve("requests.csv"));
            long completed = rows.stream().skip(1).filter(r -> r.endsWith(",")).count();
            assertThat(completed).as("requests that completed before the kill").isPositive();
            assertThat(rows.size() - 1).as("requests that ran").isLessThan(REQUESTS);
        } finally {
            ferry.destroyForcibly();
            ferry.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The command line of process {@code p} (NUL-separated), or "" once it is gone. */
    static String commandLine(ProcessHandle p) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"), StandardCharsets.ISO_8859_1);
        } catch (java.io.IOException gone) {
            return "";
        }
    }
}
