package dev.ferry.prefill.trace;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a JSONL trace in the Mooncake FAST'25 format (kvcache-ai/Mooncake,
 * FAST25-release/traces): one object per line with {@code timestamp} (ms),
 * {@code input_length}, {@code output_length} and {@code hash_ids}. Blank lines are skipped.
 * Stateless; thread-safe.
 */
public final class TraceReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TraceReader() {
    }

    /**
     * Reads the first {@code limit} requests of a trace; lines past them are not read.
     *
     * @param limit most requests to read; 0 or less reads all
     * @return requests in file order, indexed from 0
     * @throws TraceFormatException naming the file and line of the first bad line, or saying
     *                              that the file is missing or holds no requests
     * @throws UncheckedIOException when the file exists but cannot be read
     */
    public static List<TraceRequest> read(Path path, int limit) {
        List<TraceRequest> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String line;
            long lineNumber = 0;
            while ((line = in.readLine()) != null && (limit <= 0 || out.size() < limit)) {
                lineNumber++;
                if (!line.isBlank()) {
                    out.add(parse(path, lineNumber, line, out.size()));
                }
            }
        } catch (NoSuchFileException e) {
            throw new TraceFormatException("trace file not found: " + path, 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read trace " + path, e);
        }
        if (out.isEmpty()) {
            throw new TraceFormatException(path + ": the trace holds no requests", 0);
        }
        return out;
    }

    private static TraceRequest parse(Path path, long lineNumber, String line, int index) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw bad(path, lineNumber, "not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (node == null || !node.isObject()) {
            throw bad(path, lineNumber, "expected a JSON object");
        }
        long timestamp = number(path, lineNumber, node, "timestamp");
        long input = number(path, lineNumber, node, "input_length");
        long output = number(path, lineNumber, node, "output_length");
        JsonNode ids = node.get("hash_ids");
        if (ids == null || !ids.isArray() || ids.isEmpty()) {
            throw bad(path, lineNumber, "'hash_ids' must be a non-empty array of integers");
        }
        long[] keys = new long[ids.size()];
        for (int i = 0; i < keys.length; i++) {
            if (!ids.get(i).isIntegralNumber() || !ids.get(i).canConvertToLong()) {
                throw bad(path, lineNumber, "'hash_ids[" + i + "]' is not a 64-bit integer");
            }
            keys[i] = ids.get(i).asLong();
        }
        if (input > Integer.MAX_VALUE || output > Integer.MAX_VALUE) {
            throw bad(path, lineNumber, "token counts above 2^31");
        }
        return new TraceRequest(index, timestamp, (int) input, (int) output, keys);
    }

    private static long number(Path path, long lineNumber, JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null) {
            throw bad(path, lineNumber, "missing field '" + field + "'");
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong() || value.asLong() < 0) {
            throw bad(path, lineNumber, "'" + field + "' must be a non-negative integer, got " + value);
        }
        return value.asLong();
    }

    private static TraceFormatException bad(Path path, long lineNumber, String what) {
        return new TraceFormatException(path + ":" + lineNumber + ": " + what, lineNumber);
    }
}
