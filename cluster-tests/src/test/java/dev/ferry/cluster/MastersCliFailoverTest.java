package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.cli.FerryCommand;
import dev.ferry.store.coord.LeaderLocator;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.server.MasterMain;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ferry cluster --masters 3} whose leading master is killed with SIGKILL from outside
 * mid-replay: the replay goes on with the next leader, the report names the master lost, and
 * the exit code follows the requests (0 when none failed), not the death.
 */
class MastersCliFailoverTest {
    private static final int REQUESTS = 400;
    private static final Pattern STARTED = Pattern.compile("started +master at (etcd://\\S+)");

    @Test
    void theLeaderKilledFromOutsideIsNamedAndTheReplayGoesOn(@TempDir Path dir) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(LocalCluster.childJvmFlags());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FerryCommand.class.getName(), "cluster",
                "--masters", "3", "--model", "tiny", "--requests", Integer.toString(REQUESTS), "--concurrency", "2",
                "--no-progress", "--out", dir.toString()));
        Process ferry = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(ferry.getInputStream(), StandardCharsets.UTF_8));
            List<String> lines = new CopyOnWriteArrayList<>();
            CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> out.lines().forEach(lines::add));
            await().atMost(Duration.ofSeconds(120)).until(() -> lines.stream().anyMatch(l -> STARTED.matcher(l).find()));
            Matcher m = STARTED.matcher(lines.stream().filter(l -> STARTED.matcher(l).find()).findFirst().orElseThrow());
            assertThat(m.find()).isTrue();
            try (MasterClient master = new MasterClient(MasterAddress.parse(m.group(1)), 2_000, 0)) {
                // Some requests done: the kill comes mid-replay.
                await().atMost(Duration.ofSeconds(120)).ignoreExceptions().until(() -> master.stats().blocks() >= 40);
            }
            int leaderPort;
            try (LeaderLocator locator = new LeaderLocator(MasterAddress.parse(m.group(1)), Duration.ofSeconds(2))) {
                leaderPort = locator.find().orElseThrow().port();
            }
            ProcessHandle leader = ferry.descendants()
                    .filter(p -> MasterKillReportTest.commandLine(p).contains(MasterMain.class.getName()) && listensOn(p, leaderPort))
                    .findFirst().orElseThrow();
            assertThat(leader.destroyForcibly()).isTrue();
            assertThat(ferry.waitFor(240, TimeUnit.SECONDS)).as("ferry exits").isTrue();
            reader.get(10, TimeUnit.SECONDS);
            LeaderKillReport.assertSurvived(ferry.exitValue(), lines, REQUESTS, leader);
        } finally {
            ferry.destroyForcibly();
            ferry.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Whether process {@code p} holds the socket listening on TCP {@code port} (from /proc). */
    private static boolean listensOn(ProcessHandle p, int port) {
        Set<String> inodes = new HashSet<>();
        try (var fds = Files.list(Path.of("/proc", Long.toString(p.pid()), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring(8, target.length() - 1));
                    }
                } catch (IOException closed) {
                    // gone meanwhile
                }
            }
            String hexPort = String.format(":%04X", port);
            for (String table : List.of("tcp", "tcp6")) {
                Optional<String> hit = Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "net", table))
                        .stream().skip(1).map(String::trim).map(l -> l.split("\\s+"))
                        .filter(f -> f[1].endsWith(hexPort) && f[3].equals("0A") && inodes.contains(f[9]))
                        .map(f -> f[9]).findFirst();
                if (hit.isPresent()) {
                    return true;
                }
            }
            return false;
        } catch (IOException gone) {
            return false;
        }
    }
}
