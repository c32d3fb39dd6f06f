package dev.ferry.cluster.netns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cluster.LocalCluster;
import dev.ferry.cluster.cli.ExitCodes;
import dev.ferry.cluster.cli.FerryCommand;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ferry cluster --netns}: every role on a host of its own (a network namespace on a
 * bridge, its own host identity), the same replay as on loopback, nothing through shared
 * memory, and nothing of the bed left behind however the run ends.
 */
class NetnsClusterTest {
    private final StringWriter err = new StringWriter();

    @BeforeAll
    static void needsRoot() {
        var reason = NetnsHosts.unavailableReason();
        Assumptions.assumeTrue(reason.isEmpty(), () -> "no network namespaces here: " + reason.orElse(""));
    }

    private int ferry(String... args) {
        CommandLine cli = FerryCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    private JsonNode run(Path out, String... more) throws IOException {
        List<String> args = new ArrayList<>(List.of("cluster", "--model", "tiny", "--requests", "40",
                "--capacity-blocks", "120", "--transport", "shm", "--out", out.toString(), "--no-progress"));
        args.addAll(List.of(more));
        assertThat(ferry(args.toArray(String[]::new))).as(err.toString()).isEqualTo(ExitCodes.OK);
        return new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    }

    /**
     * Asked for shared memory, the loopback run uses it; across namespaces, which share
     * /dev/shm and the boot id, the host identities keep it from ever being chosen and TCP
     * carries every byte, with the same hits as on loopback (the store fills up and evicts:
     * one request at a time, the hits are those of the same LRU order).
     */
    @Test
    void theMainJobAcrossNamespacesHitsAsOnLoopbackWithNoSharedMemoryBetweenHosts(@TempDir Path dir) throws IOException {
        JsonNode loopback = run(dir.resolve("loopback"));
        JsonNode netns = run(dir.resolve("netns"), "--netns");
        System.out.printf("loopback: hit ratio %s, wall %s s; netns: hit ratio %s, wall %s s, bytes %s%n",
                loopback.get("hitRatio"), loopback.get("wallSeconds"), netns.get("hitRatio"), netns.get("wallSeconds"),
                netns.get("bytesByTransport"));
        assertThat(loopback.get("bytesByTransport").get("shm").asLong()).as("loopback, shm asked for").isPositive();
        assertThat(netns.get("failed").asLong()).isZero();
        assertThat(netns.get("verifyFailures").asLong()).isZero();
        assertThat(netns.get("hitRatio").asDouble()).isPositive().isEqualTo(loopback.get("hitRatio").asDouble());
        assertThat(netns.get("bytesByTransport").get("shm").asLong()).as("shared-memory bytes between hosts").isZero();
        assertThat(netns.get("bytesByTransport").get("tcp").asLong()).isPositive();
        String store = Files.readString(dir.resolve("netns/logs/store-1.log"));
        assertThat(store).as("a store node serves on its bridge address").containsPattern("data=10\\.234\\.\\d+\\.2:");
        assertThat(dir.resolve("netns/logs/tls/store-1/cert.pem")).as("the roles authenticate each other with mutual "
                + "TLS, by default, across namespaces").exists();
        assertThat(leftBehind(ProcessHandle.current().pid())).isEmpty();
    }

    @Test
    void aClusterThatFailsToStartRemovesItsNamespaces(@TempDir Path dir) {
        int code = ferry("cluster", "--netns", "--model", "tiny", "--requests", "5", "--master-port", "70000",
                "--no-progress", "--out", dir.toString());
        assertThat(code).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("master exited").contains("cannot listen on 10.234.");
        assertThat(leftBehind(ProcessHandle.current().pid())).isEmpty();
    }

    @Test
    void ctrlCRemovesTheNamespacesAndABedLeftByAKilledRunGoesAtTheNextStart(@TempDir Path dir) throws Exception {
        Assumptions.assumeFalse(dev.ferry.cluster.CtrlCTest.sigintIgnored(),
                "SIGINT is ignored in this process (started as a background job), so its children ignore it too");
        Process killed = startNetnsCluster(dir.resolve("killed"));
        try {
            assertThat(leftBehind(killed.pid())).as("the bed while it runs").isNotEmpty();
            killed.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            assertThat(leftBehind(killed.pid())).as("SIGKILL leaves the bed").isNotEmpty();
            // the killed run's processes exit when their stdin closes; its bed goes now
            assertThat(NetnsHosts.removeStale()).isNotEmpty();
            assertThat(leftBehind(killed.pid())).isEmpty();
        } finally {
            killed.destroyForcibly();
        }
        Process interrupted = startNetnsCluster(dir.resolve("interrupted"));
        try {
            List<ProcessHandle> children = interrupted.descendants().toList();
            new ProcessBuilder("kill", "-INT", Long.toString(interrupted.pid())).start().waitFor();
            assertThat(interrupted.waitFor(60, TimeUnit.SECONDS)).as("ferry exits on SIGINT").isTrue();
            await().atMost(Duration.ofSeconds(15)).untilAsserted(() ->
                    assertThat(children).noneMatch(ProcessHandle::isAlive));
            assertThat(leftBehind(interrupted.pid())).as("what SIGINT left").isEmpty();
        } finally {
            interrupted.destroyForcibly();
        }
    }

    /** Run by an unprivileged user (that may still read the class path), --netns says it needs root. */
    @Test
    void withoutRootItSaysSoAndStartsNothing(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
        List<String> command = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"));
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(LocalCluster.childJvmFlags());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FerryCommand.class.getName(), "cluster",
                "--netns", "--model", "tiny", "--requests", "5", "--no-progress", "--out", dir.resolve("out").toString()));
        Process ferry = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(ferry.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(ferry.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(ferry.exitValue()).as(output).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(output).contains("ferry: --netns: network namespaces, veths and a bridge need root")
                .doesNotContain("started");
        assertThat(leftBehind(ferry.pid())).isEmpty();
    }

    /** A {@code ferry cluster --netns} process with a long replay, once its cluster runs. */
    private static Process startNetnsCluster(Path out) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(LocalCluster.childJvmFlags());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FerryCommand.class.getName(), "cluster",
                "--netns", "--model", "tiny", "--requests", "100000", "--capacity-blocks", "300", "--no-progress",
                "--store-nodes", "1", "--out", out.toString(), "--insecure-no-tls")); // what is cleaned up, not TLS
        Process ferry = new ProcessBuilder(command).redirectErrorStream(true).start();
        BufferedReader lines = new BufferedReader(new InputStreamReader(ferry.getInputStream(), StandardCharsets.UTF_8));
        String line;
        StringBuilder seen = new StringBuilder();
        while ((line = lines.readLine()) != null && !line.startsWith("  network ")) {
            seen.append(line).append('\n');
        }
        assertThat(line).as("the cluster started: %s", seen).isNotNull();
        Thread.ofPlatform().daemon().start(() -> lines.lines().forEach(l -> { }));
        return ferry;
    }

    /** The namespaces and links of the bed that process {@code pid} made, still there. */
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
