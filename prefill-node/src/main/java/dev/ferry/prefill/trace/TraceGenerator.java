package dev.ferry.prefill.trace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generates a seeded trace in the Mooncake FAST'25 shape for a zero-setup first run:
 * multi-turn conversations whose every turn extends the previous turn's prefix, opened by
 * one of a few shared system prompts, with exponential inter-arrival times. Equal seeds
 * give equal traces. Stateless; thread-safe.
 */
public final class TraceGenerator {
    private static final int BLOCK_TOKENS = 512;
    private static final int SYSTEM_PROMPTS = 4;
    private static final double REQUESTS_PER_SECOND = 4.0;

    private TraceGenerator() {
    }

    /** @param requests how many requests, at least 1 */
    public static List<TraceRequest> generate(long seed, int requests) {
        SplittableRandom random = new SplittableRandom(seed);
        long nextId = 0;
        List<long[]> systemPrompts = new ArrayList<>();
        for (int i = 0; i < SYSTEM_PROMPTS; i++) {
            long[] prompt = new long[1 + random.nextInt(4)];
            for (int j = 0; j < prompt.length; j++) {
                prompt[j] = nextId++;
            }
            systemPrompts.add(prompt);
        }
        List<long[]> open = new ArrayList<>(); // conversations that may continue
        List<TraceRequest> out = new ArrayList<>(requests);
        double clockMs = 0;
        for (int i = 0; i < requests; i++) {
            long[] prefix;
            if (!open.isEmpty() && random.nextDouble() < 0.55) {
                int pick = random.nextInt(open.size());
                prefix = open.get(pick);
                open.remove(pick);
            } else {
                prefix = systemPrompts.get(random.nextInt(SYSTEM_PROMPTS));
            }
            int added = 1 + random.nextInt(8);
            if (prefix.length + added > 40) {
                prefix = systemPrompts.get(random.nextInt(SYSTEM_PROMPTS));
            }
            long[] keys = new long[prefix.length + added];
            System.arraycopy(prefix, 0, keys, 0, prefix.length);
            for (int j = prefix.length; j < keys.length; j++) {
                keys[j] = nextId++;
            }
            int input = (keys.length - 1) * BLOCK_TOKENS + 1 + random.nextInt(BLOCK_TOKENS);
            int output = 50 + random.nextInt(751);
            out.add(new TraceRequest(i, Math.round(clockMs), input, output, keys));
            open.add(keys);
            if (open.size() > 64) {
                open.remove(0);
            }
            clockMs += -Math.log(1 - random.nextDouble()) * 1000 / REQUESTS_PER_SECOND;
        }
        return out;
    }

    /** Writes requests as JSONL that {@link TraceReader} reads back. */
    public static void write(List<TraceRequest> requests, Path path) {
        try (Writer w = Files.newBufferedWriter(path, StandardCharsets.UTF_8)) {
            for (TraceRequest r : requests) {
                StringBuilder line = new StringBuilder(64 + r.blockKeys().length * 6);
                line.append("{\"timestamp\": ").append(r.timestampMs())
                        .append(", \"input_length\": ").append(r.inputTokens())
                        .append(", \"output_length\": ").append(r.outputTokens())
                        .append(", \"hash_ids\": [");
                for (int i = 0; i < r.blockKeys().length; i++) {
                    line.append(i == 0 ? "" : ", ").append(r.blockKeys()[i]);
                }
                w.write(line.append("]}\n").toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write trace " + path, e);
        }
    }
}
