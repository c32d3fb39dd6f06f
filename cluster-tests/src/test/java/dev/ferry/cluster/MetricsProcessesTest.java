package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.report.RequestResult;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.node.HostPort;
import dev.ferry.cluster.cli.ExitCodes;
import dev.ferry.cluster.cli.FerryCommand;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The {@code /metrics} endpoints of a real master and real store node processes, scraped
 * over HTTP after a replay that filled the store and evicted: they agree with the master's
 * own counts and with each other.
 */
class MetricsProcessesTest {
    private static final ModelProfile TINY = ModelProfile.byName("tiny");
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void masterAndStoreNodesServeTheirMetricsAfterAReplay(@TempDir Path dir) throws Exception {
        List<TraceRequest> trace = Traces.realOrGenerated(60);
        long capacity = 200;
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Config(TINY, capacity, 2, 2, dir))) {
            Map<String, HostPort> endpoints = cluster.metricsEndpoints();
            assertThat(endpoints).containsOnlyKeys("master", "store-1", "store-2");
            assertThat(scrape(endpoints.get("master"))).containsEntry("ferry_master_blocks{tier=\"dram\"}", 0.0)
                    .containsEntry("ferry_master_nodes", 2.0).containsEntry("ferry_master_leader", 1.0);
            List<RequestResult> results = new Replay(cluster.prefill(), 0, 1, 60_000).run(trace, r -> { });
            assertThat(results).noneMatch(RequestResult::failed);
            var stats = cluster.masterStats();
            assertThat(stats.evictions()).as("the replay filled the store").isPositive();
            Map<String, Double> master = scrape(endpoints.get("master"));
            assertThat(master).containsEntry("ferry_master_blocks{tier=\"dram\"}", (double) stats.blocks())
                    .containsEntry("ferry_master_tier_bytes{tier=\"dram\"}", (double) stats.blocks() * TINY.blockBytes())
                    .containsEntry("ferry_master_evictions_total", (double) stats.evictions())
                    .containsEntry("ferry_master_hits_total{tier=\"dram\"}", (double) stats.dramHits());
            // A node learns of commits and evictions from its index updates: it may lag a poll.
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                double blocks = 0;
                for (String node : List.of("store-1", "store-2")) {
                    Map<String, Double> n = scrape(endpoints.get(node));
                    blocks += n.get("ferry_node_blocks{tier=\"dram\"}");
                    assertThat(n.get("ferry_node_served_bytes_total{direction=\"write\",transport=\"tcp\"}"))
                            .as(node).isPositive();
                    assertThat(n.get("ferry_node_served_bytes_total{direction=\"read\",transport=\"tcp\"}"))
                            .as(node).isPositive();
                    assertThat(n.get("ferry_node_slab_bytes{state=\"used\"}") + n.get("ferry_node_slab_bytes{state=\"free\"}"))
                            .as(node).isEqualTo((double) capacity / 2 * TINY.blockBytes());
                }
                assertThat(blocks).isEqualTo((double) stats.blocks());
            });
        }
    }

    @Test
    void aBadOrTakenMetricsPortIsNamedAndNothingKeepsRunning() throws IOException {
        StringWriter err = new StringWriter();
        CommandLine cli = FerryCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        assertThat(cli.execute("master", "--metrics-port", "70000")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--metrics-port must be 0..65535, got 70000");
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThat(cli.execute("master", "--metrics-port", Integer.toString(taken.getLocalPort())))
                    .isEqualTo(ExitCodes.BAD_INPUT);
            assertThat(err.toString()).contains("cannot serve HTTP on 127.0.0.1:" + taken.getLocalPort());
        }
    }

    /** Every sample of the endpoint's {@code /metrics}: {@code name{labels}} to value. */
    private Map<String, Double> scrape(HostPort endpoint) throws IOException, InterruptedException {
        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://" + endpoint + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).isEqualTo(200);
        Map<String, Double> samples = new HashMap<>();
        for (String line : answer.body().lines().toList()) {
            if (!line.isBlank() && !line.startsWith("#")) {
                int space = line.lastIndexOf(' ');
                samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return samples;
    }
}
