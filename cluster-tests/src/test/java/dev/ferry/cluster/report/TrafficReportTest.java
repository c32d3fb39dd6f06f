package dev.ferry.cluster.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.transfer.metrics.LinkTraffic;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrafficReportTest {
    private static final TrafficReport TRAFFIC = TrafficReport.of(nodes());

    private static Map<String, List<LinkTraffic>> nodes() {
        Map<String, List<LinkTraffic>> nodes = new LinkedHashMap<>();
        nodes.put("prefill", List.of(new LinkTraffic("tcp", "127.0.0.1:7000#0", 3_000_000_000L, 1_000),
                new LinkTraffic("tcp", "127.0.0.1:7000#1", 2_600_000_000L, 900),
                new LinkTraffic("shm", "shared-memory", 0, 0)));
        nodes.put("decode", List.of(new LinkTraffic("aeron", "udp 127.0.0.1:40123", 1_500, 3)));
        return nodes;
    }

    @Test
    void sumsBytesAndSlicesPerTransportOverBothNodes() {
        assertThat(TRAFFIC.bytesByTransport()).containsExactly(Map.entry("tcp", 5_600_000_000L),
                Map.entry("aeron", 1_500L), Map.entry("aeron-ipc", 0L), Map.entry("shm", 0L));
        assertThat(TRAFFIC.slicesByTransport()).containsEntry("tcp", 1_900L).containsEntry("aeron", 3L);
        assertThat(TRAFFIC.totalBytes()).isEqualTo(5_600_001_500L);
        assertThat(TRAFFIC.links()).extracting(TrafficReport.NodeLink::node)
                .containsExactly("prefill", "prefill", "prefill", "decode");
    }

    @Test
    void formatsOneEntryPerTransportInDecimalUnits() {
        assertThat(TRAFFIC.formatBytesByTransport()).isEqualTo("tcp 5.6 GB, aeron 1.5 kB, aeron-ipc 0 B, shm 0 B");
        assertThat(TrafficReport.bytes(999)).isEqualTo("999 B");
        assertThat(TrafficReport.bytes(121_100_000)).isEqualTo("121.1 MB");
    }

    @Test
    void summaryJsonCarriesBytesPerTransportAndPerLink(@TempDir Path dir) throws IOException {
        List<RequestResult> results = SyntheticResults.of(10);
        ReportFiles.write(dir, results, ReplaySummary.of(results, 1_000_000_000L), TRAFFIC, "t");
        JsonNode json = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        assertThat(json.get("bytesByTransport").get("tcp").asLong()).isEqualTo(5_600_000_000L);
        assertThat(json.get("slicesByTransport").get("aeron").asLong()).isEqualTo(3);
        assertThat(json.get("links")).hasSize(4);
        JsonNode first = json.get("links").get(0);
        assertThat(first.get("node").asText()).isEqualTo("prefill");
        assertThat(first.get("transport").asText()).isEqualTo("tcp");
        assertThat(first.get("link").asText()).isEqualTo("127.0.0.1:7000#0");
        assertThat(first.get("bytes").asLong()).isEqualTo(3_000_000_000L);
        assertThat(first.get("slices").asLong()).isEqualTo(1_000);
    }

    @Test
    void summaryJsonWithoutTrafficLeavesTheFieldsOut(@TempDir Path dir) throws IOException {
        List<RequestResult> results = SyntheticResults.of(10);
        ReportFiles.write(dir, results, ReplaySummary.of(results, 1_000_000_000L), "t");
        JsonNode json = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        assertThat(json.has("bytesByTransport")).isFalse();
        assertThat(json.has("requests")).isTrue();
    }
}
