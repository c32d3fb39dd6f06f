package dev.ferry.prefill.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1, \"a\"]}|'hash_ids[1]' is not a 64-bit integer",
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [99999999999999999999]}|'hash_ids[0]' is not a 64-bit integer",
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 2.5, \"hash_ids\": [1]}|'output_length' must be a non-negative integer",
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}|'hash_ids' must be a non-empty array",
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": 3}|'hash_ids' must be a non-empty array",
        "{\"timestamp\": 0, \"input_length\": 9999999999, \"output_length\": 1, \"hash_ids\": [1]}|token counts above 2^31"})
    void badLinesNameTheFileLineAndProblem(String badLine, String problem, @TempDir Path dir) throws IOException {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1]}\n"
                + badLine + "\n");
        assertThatThrownBy(() -> TraceReader.read(file, 0)).isInstanceOf(TraceFormatException.class)
                .hasMessageContaining(file + ":2: ").hasMessageContaining(problem)
                .extracting(e -> ((TraceFormatException) e).lineNumber()).isEqualTo(2L);
    }

    @Test
    void readsTheWholeMooncakeConversationTrace() {
        Path trace = SharedTrace.conversation();
        List<TraceRequest> all = TraceReader.read(trace, 0);
        assertThat(all).hasSize(12_031);
        assertThat(all.get(0).blockKeys()).hasSize(14).startsWith(0, 1, 2);
        assertThat(all.get(0).inputTokens()).isEqualTo(6758);
        assertThat(all.get(0).outputTokens()).isEqualTo(500);
        assertThat(all.get(12_030).index()).isEqualTo(12_030);
        assertThat(all.stream().mapToLong(r -> r.blockKeys().length).sum()).isEqualTo(288_500);
        assertThat(all.stream().mapToLong(TraceRequest::inputTokens).average().orElseThrow())
                .isCloseTo(12_035, within(1.0));
        assertThat(all).isSortedAccordingTo((x, y) -> Long.compare(x.timestampMs(), y.timestampMs()));
        // The README's reference figure: an unbounded prefix cache hits 0.3664 of the blocks.
        assertThat(PrefixReuse.unboundedHitRatio(all)).isCloseTo(0.3664, within(1e-4));
        assertThat(TraceReader.read(trace, 100)).hasSize(100);
    }

    @Test
    void missingAndEmptyFilesAreClearErrors(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> TraceReader.read(dir.resolve("nope.jsonl"), 0))
                .isInstanceOf(TraceFormatException.class)
                .hasMessage("trace file not found: " + dir.resolve("nope.jsonl"));
        Path empty = Files.createFile(dir.resolve("empty.jsonl"));
        assertThatThrownBy(() -> TraceReader.read(empty, 0)).hasMessageContaining("holds no requests");
    }
}
