package dev.ferry.store.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterRole;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.metrics.HealthServer;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.node.StoreNode;
import dev.ferry.transfer.TransferEngine;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code /metrics} endpoints of a master and a store node (with an SSD tier), served over
 * real HTTP by the servers the processes start, scraped while a client puts and gets blocks:
 * the values move with what the store holds.
 */
class MetricsEndpointsTest {
    private static final long BLOCK = 64 * 1024;
    private static final int DRAM_BLOCKS = 8;

    @TempDir
    Path dir;
    private final HttpClient http = HttpClient.newHttpClient();
    private final AtomicReference<MasterRole> role = new AtomicReference<>(MasterRole.SOLE);
    private MasterService master;
    private MasterClient masterClient;
    private TransferEngine clientEngine;
    private Slab staging;
    private StoreClient store;
    private StoreNode node;
    private HealthServer masterHttp;
    private HealthServer nodeHttp;

    @BeforeEach
    void start() {
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000);
        masterHttp = MetricsServers.master("127.0.0.1", 0, master::master, role::get);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        node = StoreNode.start(new StoreNode.Config("n1", new HostPort("127.0.0.1", master.port()),
                DRAM_BLOCKS * BLOCK, new TransferEngine.Context().metrics(registry, "n1"), dir, null,
                dir.resolve("ssd"), 64 * BLOCK, "lru", 50));
        nodeHttp = MetricsServers.storeNode("127.0.0.1", 0, node, registry);
        masterClient = new MasterClient("127.0.0.1", master.port(), 5_000);
        // over TCP: the node serves (and counts) the bytes; a shared-memory copy would bypass it
        clientEngine = new TransferEngine(new TransferEngine.Context().resolver(masterClient).sharedMemory(false));
        staging = Slab.allocate(4 * BLOCK);
        store = new StoreClient(masterClient, clientEngine, 10_000);
    }

    @AfterEach
    void stop() {
        dev.ferry.store.cli.ProcessSupport.closeQuietly(masterHttp, master, node, nodeHttp, masterClient, clientEngine,
                staging, store);
    }

    @Test
    void masterAndStoreNodeMetricsFollowPutsDemotionsAndReads() throws Exception {
        Map<String, Double> m = scrape(masterHttp);
        assertThat(m).containsEntry("ferry_master_leader", 1.0).containsEntry("ferry_master_epoch", 0.0)
                .containsEntry("ferry_master_nodes", 1.0).containsEntry("ferry_master_blocks{tier=\"dram\"}", 0.0);
        Map<String, Double> n = scrape(nodeHttp);
        assertThat(n).containsEntry("ferry_node_blocks{tier=\"dram\"}", 0.0)
                .containsEntry("ferry_node_slab_bytes{state=\"free\"}", (double) DRAM_BLOCKS * BLOCK)
                .containsEntry("ferry_node_ssd_health{state=\"ok\"}", 1.0)
                .containsEntry("ferry_node_registered", 1.0);

        store.put(BlockKey.ofAll(1), BLOCK, staging.memory(), BlockContent::fill);
        assertThat(scrape(masterHttp)).containsEntry("ferry_master_blocks{tier=\"dram\"}", 1.0)
                .containsEntry("ferry_master_tier_bytes{tier=\"dram\"}", (double) BLOCK);
        assertThat(scrape(masterHttp)).containsEntry("ferry_master_gpu_copies_lost_total", 0.0);
        assertThat(masterClient.gpuCopiesLost("engine-1", BlockKey.ofAll(1, 2))).as("of them still committed").isOne();
        assertThat(scrape(masterHttp)).containsEntry("ferry_master_gpu_copies_lost_total", 2.0);
        assertThat(masterClient.gpuHeld("engine-2", true, BlockKey.ofAll(1, 7), new BlockKey[0])).isEqualTo(2);
        assertThat(scrape(masterHttp)).containsEntry("ferry_master_gpu_copies{engine=\"engine-2\"}", 2.0);
        assertThat(masterClient.gpuHeld("engine-2", true, new BlockKey[0], new BlockKey[0])).isZero();
        assertThat(scrape(masterHttp)).as("an engine that holds nothing has no gauge")
                .doesNotContainKey("ferry_master_gpu_copies{engine=\"engine-2\"}");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(scrape(nodeHttp))
                .containsEntry("ferry_node_blocks{tier=\"dram\"}", 1.0)
                .containsEntry("ferry_node_slab_bytes{state=\"used\"}", (double) BLOCK)
                .containsEntry("ferry_node_served_bytes_total{direction=\"write\",transport=\"tcp\"}", (double) BLOCK));

        // Past the high watermark the master demotes the coldest blocks to the node's SSD.
        long[] more = LongStream.rangeClosed(2, 12).toArray();
        for (long key : more) {
            store.put(BlockKey.ofAll(key), BLOCK, staging.memory(), BlockContent::fill);
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                var s = masterClient.stats();
                return s.usedBytes() <= s.capacityBytes() * Master.HIGH_WATERMARK && s.indexBacklog() == 0;
            });
        }
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            Map<String, Double> after = scrape(masterHttp);
            assertThat(after.get("ferry_master_demotions_total")).isPositive();
            assertThat(after.get("ferry_master_blocks{tier=\"ssd\"}")).isPositive();
            assertThat(after.get("ferry_master_tier_bytes{tier=\"ssd\"}")).isPositive();
            Map<String, Double> onNode = scrape(nodeHttp);
            assertThat(onNode.get("ferry_node_blocks{tier=\"ssd\"}")).isEqualTo(after.get("ferry_master_blocks{tier=\"ssd\"}"));
            assertThat(onNode.get("ferry_node_blocks{tier=\"dram\"}")).isEqualTo(after.get("ferry_master_blocks{tier=\"dram\"}"));
            assertThat(onNode.get("ferry_node_scrub_blocks_total")).isPositive();
        });

        double served = scrape(nodeHttp).get("ferry_node_served_bytes_total{direction=\"read\",transport=\"tcp\"}");
        store.get(BlockKey.ofAll(12), BLOCK, staging.memory(), (key, bytes, crc) -> { });
        assertThat(scrape(nodeHttp).get("ferry_node_served_bytes_total{direction=\"read\",transport=\"tcp\"}"))
                .isEqualTo(served + BLOCK);
        assertThat(scrape(masterHttp).get("ferry_master_hits_total{tier=\"dram\"}")).isZero();
        assertThat(store.lookupPrefix(BlockKey.ofAll(12))).isEqualTo(1);
        assertThat(scrape(masterHttp).get("ferry_master_hits_total{tier=\"dram\"}")).isEqualTo(1.0);
    }

    @Test
    void aStandbyMasterShowsItsRoleAndEpochAndIsNotReady() throws Exception {
        assertThat(get(masterHttp, "/ready").statusCode()).isEqualTo(200);
        role.set(new MasterRole(false, 7, 1));
        assertThat(scrape(masterHttp)).containsEntry("ferry_master_leader", 0.0).containsEntry("ferry_master_epoch", 7.0)
                .containsEntry("ferry_master_takeovers_total", 1.0);
        assertThat(get(masterHttp, "/ready").statusCode()).isEqualTo(503);
        assertThat(get(masterHttp, "/health").statusCode()).isEqualTo(200);
    }

    private HttpResponse<String> get(HealthServer server, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Every sample of the endpoint's answer: {@code name{labels}} to value. */
    private Map<String, Double> scrape(HealthServer server) throws IOException, InterruptedException {
        HttpResponse<String> answer = get(server, "/metrics");
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.headers().firstValue("content-type").orElse("")).startsWith("text/plain; version=0.0.4");
        Map<String, Double> samples = new HashMap<>();
        for (String line : answer.body().lines().toList()) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
        }
        return samples;
    }
}
