package dev.ferry.cluster.netns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.LocalCluster;
import dev.ferry.cluster.LeaderKillReport;
import dev.ferry.cluster.cli.ExitCodes;
import dev.ferry.cluster.cli.FerryCommand;
import dev.ferry.store.coord.LeaderLocator;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.server.MasterMain;
import dev.ferry.transfer.tls.PortSecurity;
import dev.ferry.transfer.tls.TlsConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ferry cluster --netns --masters N}: etcd and each master on a host of its own (a
 * network namespace on the bridge), etcd reached over the bridge with mutual TLS, the other
 * roles following the leader through it, also when the leader is killed mid-replay.
 */
class NetnsMastersTest {
    private static final Pattern STARTED = Pattern.compile(
            "started +master at (etcd\\+https://(10\\.234\\.\\d+\\.\\d+):\\d+/ferry) \\(leader (10\\.234\\.\\d+\\.\\d+):\\d+\\)");

    @BeforeAll
    static void needsRoot() {
        var reason = NetnsHosts.unavailableReason();
        Assumptions.assumeTrue(reason.isEmpty(), () -> "no network namespaces here: " + reason.orElse(""));
    }

    /** A {@code ferry cluster --netns --masters 3} process, its output collected into {@code lines}. */
    private static Process ferry(Path out, int requests, List<String> lines) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(LocalCluster.childJvmFlags());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FerryCommand.class.getName(), "cluster",
                "--netns", "--masters", "3", "--model", "tiny", "--requests", Integer.toString(requests),
                "--concurrency", "2", "--capacity-blocks", "120", "--store-nodes", "1", "--no-progress",
                "--out", out.toString()));
        Process ferry = new ProcessBuilder(command).redirectErrorStream(true).start();
        BufferedReader output = new BufferedReader(new InputStreamReader(ferry.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture.runAsync(() -> output.lines().forEach(lines::add));
        return ferry;
    }

    private static Matcher started(List<String> lines) {
        await().atMost(Duration.ofSeconds(120)).until(() -> lines.stream().anyMatch(l -> STARTED.matcher(l).find()));
        Matcher m = STARTED.matcher(lines.stream().filter(l -> STARTED.matcher(l).find()).findFirst().orElseThrow());
        assertThat(m.find()).isTrue();
        return m;
    }

    /**
     * The replay serves every request with its bytes verified, etcd serves on its own bridge
     * address (not loopback) over TLS with a certificate of the run's CA, each master runs
     * in a namespace of its own on an address of its own, and the bed and etcd go at the end.
     */
    @Test
    void mastersElectALeaderInAnEtcdOnItsOwnHostAndTheReplayIsServed(@TempDir Path dir) throws Exception {
        List<String> lines = new CopyOnWriteArrayList<>();
        Process ferry = ferry(dir, 40, lines);
        try {
            Matcher started = started(lines);
            assertThat(ferry.waitFor(120, TimeUnit.SECONDS)).as("ferry exits").isTrue();
            String output = String.join("\n", lines);
            assertThat(ferry.exitValue()).as(output).isEqualTo(ExitCodes.OK);
            assertThat(output).contains("requests           40 (0 failed)").contains("verify failures    0");
            String etcdHost = started.group(2);
            assertThat(etcdHost).as("etcd on the bridge, not loopback").isNotEqualTo("127.0.0.1");
            List<String> masterHosts = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                String log = Files.readString(dir.resolve("logs/master-" + i + ".log"));
                Matcher address = Pattern.compile("address=(10\\.234\\.\\d+\\.\\d+):\\d+").matcher(log);
                assertThat(address.find()).as("master-%d advertises a bridge address: %s", i, log).isTrue();
                masterHosts.add(address.group(1));
            }
            assertThat(masterHosts).as("each master on a host of its own").doesNotHaveDuplicates()
                    .doesNotContain(etcdHost).contains(started.group(3));
            assertThat(dir.resolve("logs/tls/etcd/cert.pem")).as("etcd's certificate of the run's CA").exists();
            assertThat(ProcessHandle.allProcesses().map(NetnsMastersTest::commandLine))
                    .as("etcd stops with the cluster").noneMatch(c -> c.contains(dir.toString()) && c.contains("etcd"));
            assertThat(leftBehind(ferry.pid())).isEmpty();
        } finally {
            ferry.destroyForcibly();
            ferry.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * The leading master, in its namespace, is killed with SIGKILL mid-replay: a standby on
     * another host takes over through etcd, no byte read is wrong, and the report names the
     * master lost.
     */
    @Test
    void theLeaderKilledMidReplayIsReplacedFromAnotherHost(@TempDir Path dir) throws Exception {
        int requests = 200;
        List<String> lines = new CopyOnWriteArrayList<>();
        Process ferry = ferry(dir, requests, lines);
        try {
            Matcher started = started(lines);
            PortSecurity client = PortSecurity.tls(TlsConfig.fromDir(dir.resolve("logs/tls/client")));
            try (MasterClient master = new MasterClient(MasterAddress.parse(started.group(1)), 2_000, 0, client)) {
                // Some requests done: the kill comes mid-replay.
                await().atMost(Duration.ofSeconds(120)).ignoreExceptions().until(() -> master.stats().blocks() >= 40);
            }
            String leaderHost;
            try (LeaderLocator locator = new LeaderLocator(MasterAddress.parse(started.group(1)), Duration.ofSeconds(2),
                    client)) {
                leaderHost = locator.find().orElseThrow().host();
            }
            String hostFlag = "\0--host\0" + leaderHost + "\0";
            ProcessHandle leader = ferry.descendants().filter(p -> commandLine(p).contains(MasterMain.class.getName())
                    && commandLine(p).contains(hostFlag)).findFirst().orElseThrow();
            assertThat(leader.destroyForcibly()).isTrue();
            assertThat(ferry.waitFor(240, TimeUnit.SECONDS)).as("ferry exits").isTrue();
            LeaderKillReport.assertSurvived(ferry.exitValue(), lines, requests, leader);
            assertThat(leftBehind(ferry.pid())).isEmpty();
        } finally {
            ferry.destroyForcibly();
            ferry.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Process {@code p}'s arguments, NUL-separated as in /proc; empty when it is gone. */
    private static String commandLine(ProcessHandle p) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"), StandardCharsets.ISO_8859_1);
        } catch (IOException gone) {
            return "";
        }
    }

    /** The namespaces and the bridge of the bed that process {@code pid} made, still there. */
    private static List<String> leftBehind(long pid) {
        List<String> out = new ArrayList<>();
        IpCommand.run(List.of("ip", "netns", "list")).output().lines().map(l -> l.split(" ", 2)[0])
                .filter(n -> n.startsWith("ferryh-" + pid + "-")).forEach(out::add);
        IpCommand.run(List.of("ip", "-o", "link", "show")).output().lines().map(l -> l.split(": ", 3))
                .filter(p -> p.length > 1).map(p -> p[1].split("@", 2)[0])
                .filter(n -> n.equals("fyb" + pid) || n.startsWith("fyv" + pid + "x")).forEach(out::add);
        return out;
    }
}
