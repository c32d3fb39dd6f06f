package dev.ferry.prefill.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TraceReaderTest {
    @Test
    void readsTheFirstRequestsOfTheMooncakeFormat(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("t.jsonl");
        Files.writeString(file, """
                {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2]}

                {"timestamp": 27, "input_length": 100, "output_length": 3, "hash_ids": [0, 4]}
                """);
        List<TraceRequest> trace = TraceReader.read(file, 0);
        assertThat(trace).hasSize(2);
        assertThat(trace.get(1).index()).isEqualTo(1);
        assertThat(trace.get(1).timestampMs()).isEqualTo(27);
        assertThat(trace.get(1).blockKeys()).containsExactly(0, 4);
        assertThat(TraceReader.read(file, 1)).hasSize(1);
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1]|not valid JSON",
        "[1, 2]|expected a JSON object",
        "{\"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1]}|missing field 'timestamp'",
        "{\"timestamp\": -5, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1]}|'timestamp' must be a non-negative integer",
        "{\"timestamp\": 0, \"input_length\": \"x\", \"output_length\": 1, \"hash_ids\": [1]}|'input_length' must be a non-negative integer",
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": []}|'hash_ids' must be a non-empty array",
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1, \"a\"]}|'hash_ids[1]' is not an integer"})
    void badLinesNameTheFileLineAndProblem(String badLine, String problem, @TempDir Path dir) throws IOException {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1]}\n"
                + badLine + "\n");
        assertThatThrownBy(() -> TraceReader.read(file, 0)).isInstanceOf(TraceFormatException.class)
                .hasMessageContaining(file + ":2: ").hasMessageContaining(problem)
                .extracting(e -> ((TraceFormatException) e).lineNumber()).isEqualTo(2L);
    }

    @Test
    void missingAndEmptyFilesAreClearErrors(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> TraceReader.read(dir.resolve("nope.jsonl"), 0))
                .hasMessageContaining("trace file not found");
        Path empty = Files.createFile(dir.resolve("empty.jsonl"));
        assertThatThrownBy(() -> TraceReader.read(empty, 0)).hasMessageContaining("holds no requests");
    }

    @Test
    void generatedTracesAreSeededReusePrefixesAndRoundTrip(@TempDir Path dir) {
        List<TraceRequest> a = TraceGenerator.generate(7, 500);
        List<TraceRequest> b = TraceGenerator.generate(7, 500);
        assertThat(a).hasSize(500);
        for (int i = 0; i < a.size(); i++) {
            assertThat(a.get(i).blockKeys()).containsExactly(b.get(i).blockKeys());
            int blocks = a.get(i).blockKeys().length;
            assertThat(a.get(i).inputTokens()).isBetween((blocks - 1) * 512 + 1, blocks * 512);
        }
        assertThat(a).isSortedAccordingTo((x, y) -> Long.compare(x.timestampMs(), y.timestampMs()));
        // Unbounded-cache prefix reuse, as the reference replay counts it.
        Set<Long> seen = new HashSet<>();
        long hits = 0;
        long blocks = 0;
        for (TraceRequest r : a) {
            int prefix = 0;
            while (prefix < r.blockKeys().length && seen.contains(r.blockKeys()[prefix])) {
                prefix++;
            }
            hits += prefix;
            blocks += r.blockKeys().length;
            for (long k : r.blockKeys()) {
                seen.add(k);
            }
        }
        assertThat((double) hits / blocks).isBetween(0.2, 0.8);

        Path file = dir.resolve("gen.jsonl");
        TraceGenerator.write(a, file);
        List<TraceRequest> back = TraceReader.read(file, 0);
        assertThat(back).hasSize(500);
        assertThat(back.get(123).blockKeys()).containsExactly(a.get(123).blockKeys());
        assertThat(back.get(123).outputTokens()).isEqualTo(a.get(123).outputTokens());
    }
}
