package dev.ferry.cluster.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportFilesTest {
    private static final List<RequestResult> RESULTS = SyntheticResults.of(50);
    private static final ReplaySummary SUMMARY = ReplaySummary.of(RESULTS, 5_000_000_000L);

    @TempDir
    static Path dir;
    static List<Path> files;

    @BeforeAll
    static void writeReport() {
        files = ReportFiles.write(dir.resolve("report"), RESULTS, SUMMARY, "TTFT: tiny, 50 requests");
    }

    @Test
    void writesFiveFiles() throws IOException {
        assertThat(files).extracting(f -> f.getFileName().toString())
                .containsExactly("requests.arrow", "requests.csv", "summary.json", "ttft.png", "ttft-cdf.png");
        for (Path f : files) {
            assertThat(Files.size(f)).as(f.toString()).isPositive();
        }
    }

    @Test
    void arrowFileHasOneRowPerRequestAndNullableErrors() throws IOException {
        try (RootAllocator allocator = new RootAllocator();
             ArrowFileReader reader = new ArrowFileReader(FileChannel.open(dir.resolve("report/requests.arrow")),
                     allocator)) {
            assertThat(reader.loadNextBatch()).isTrue();
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            assertThat(root.getRowCount()).isEqualTo(50);
            assertThat(root.getSchema().getFields()).hasSize(20);
            assertThat(((IntVector) root.getVector("gpu_read_blocks")).get(42)).isZero();
            assertThat(root.getSchema().getCustomMetadata()).containsEntry("title", "TTFT: tiny, 50 requests");
            assertThat(((IntVector) root.getVector("index")).get(42)).isEqualTo(42);
            assertThat(((IntVector) root.getVector("hit_blocks")).get(42)).isEqualTo(2);
            assertThat(((BigIntVector) root.getVector("arrival_ns")).get(42)).isEqualTo(4_200_000_000L);
            assertThat(((BigIntVector) root.getVector("ttft_ns")).get(7)).isEqualTo(RESULTS.get(7).ttftNanos());
            VarCharVector error = (VarCharVector) root.getVector("error");
            assertThat(error.isNull(8)).isTrue();
            assertThat(new String(error.get(9), StandardCharsets.UTF_8)).isEqualTo(RESULTS.get(9).error());
            assertThat(root.getSchema().findField("error").isNullable()).isTrue();
            assertThat(root.getSchema().findField("bytes_read").isNullable()).isFalse();
            assertThat(reader.loadNextBatch()).isFalse();
        }
    }

    @Test
    void csvHasAHeaderAndQuotesErrors() throws IOException {
        String csv = Files.readString(dir.resolve("report/requests.csv"));
        List<String> lines = csv.lines().toList();
        assertThat(lines.get(0)).isEqualTo("index,arrival_ns,blocks,hit_blocks,bytes_written,bytes_read,queue_ns,"
                + "compute_ns,write_ns,read_ns,ttft_ns,tbt_ns,verify_failures,gpu_read_blocks,ssd_read_blocks,gpu_read_ns,"
                + "gpu_write_ns,gpu_promote_ns,elsewhere_gpu_blocks,error");
        assertThat(lines.get(1)).isEqualTo("0,0,10,0,2621440,2621440,1000,2000,1000000,1000000,1000000,20000000,0,0,0,0,0,0,0,");
        // The error of request 9 spans two lines inside its quotes: 50 rows, 5 with a line break.
        assertThat(lines).hasSize(1 + 50 + 5);
        assertThat(csv).contains(",0,0,0,0,\"decode node 2: timed out, \"\"read\"\"\nafter 5 s\"\n");
    }

    @Test
    void summaryJsonHoldsTheTitleAndFigures() throws IOException {
        JsonNode json = new ObjectMapper().readTree(dir.resolve("report/summary.json").toFile());
        assertThat(json.get("title").asText()).isEqualTo("TTFT: tiny, 50 requests");
        assertThat(json.get("requests").asInt()).isEqualTo(50);
        assertThat(json.get("failed").asInt()).isEqualTo(5);
        assertThat(json.get("hitRatio").asDouble()).isEqualTo(SUMMARY.hitRatio());
        assertThat(json.get("ttftP99Ms").asDouble()).isEqualTo(SUMMARY.ttftP99Ms());
        assertThat(json.fieldNames()).toIterable().first().isEqualTo("title");
    }

    @Test
    void chartsArePngs() throws IOException {
        for (String name : List.of("ttft.png", "ttft-cdf.png")) {
            byte[] png = Files.readAllBytes(dir.resolve("report").resolve(name));
            assertThat(png).as(name).startsWith(0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n');
        }
    }

    @Test
    void writesAReportOfNoRequests(@TempDir Path empty) {
        List<Path> written = ReportFiles.write(empty, List.of(), ReplaySummary.of(List.of(), 0), "empty");
        assertThat(written).hasSize(5).allSatisfy(f -> assertThat(f).isNotEmptyFile());
    }

    @Test
    void theOlderFormLeavesOutTheSummary(@TempDir Path older) {
        assertThat(ReportFiles.write(older, RESULTS, "t")).extracting(f -> f.getFileName().toString())
                .containsExactly("requests.arrow", "requests.csv", "ttft.png", "ttft-cdf.png");
    }
}
