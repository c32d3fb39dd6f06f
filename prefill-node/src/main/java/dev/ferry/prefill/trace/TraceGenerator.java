package dev.ferry.prefill.trace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Generates a seeded trace in the Mooncake FAST'25 shape for a zero-setup first run, and
 * writes traces as JSONL.
 *
 * <p>The workload: multi-turn conversations whose every turn extends the previous turn's
 * prefix by 1 to 8 new 512-token blocks, each opened by one of 4 shared system prompts of 1 to
 * 4 blocks; a request holds 2 to 40 blocks ({@code input_length} in
 * {@code ((blocks - 1) * 512, blocks * 512]}) and asks for 50 to 800 output tokens; arrivals are
 * a Poisson process of 4 requests/s (exponential gaps, timestamps in ms). Block ids are then
 * renumbered 0, 1, 2, ... in order of first appearance, as in the released trace. With these
 * settings an unbounded prefix cache hits roughly half of the blocks (the real conversation
 * trace: 0.37).
 *
 * <p>Equal seeds give equal traces. Stateless; thread-safe.
 */
public final class TraceGenerator {
    private static final int BLOCK_TOKENS = 512;
    private static final int SYSTEM_PROMPTS = 4;
    private static final int MAX_SYSTEM_PROMPT_BLOCKS = 4;
    private static final int MAX_TURN_BLOCKS = 8;
    private static final int MAX_BLOCKS = 40;
    private static final int MIN_OUTPUT = 50;
    private static final int MAX_OUTPUT = 800;
    private static final double REQUESTS_PER_SECOND = 4.0;
    /** Chance that a request continues an open conversation rather than opening a new one. */
    private static final double CONTINUE = 0.55;
    /** Conversations that may still get another turn; the oldest is dropped beyond this. */
    private static final int OPEN_CONVERSATIONS = 64;

    private TraceGenerator() {
    }

    /**
     * @param seed     the random seed; equal seeds give equal traces
     * @param requests how many requests, 0 or more
     * @return requests in arrival order, indexed from 0
     * @throws IllegalArgumentException when {@code requests} is negative
     */
    public static List<TraceRequest> generate(long seed, int requests) {
        if (requests < 0) {
            throw new IllegalArgumentException("requests must be >= 0, got " + requests);
        }
        SplittableRandom random = new SplittableRandom(seed);
        long[] nextId = {0};
        List<long[]> systemPrompts = new ArrayList<>();
        for (int i = 0; i < SYSTEM_PROMPTS; i++) {
            systemPrompts.add(freshBlocks(new long[0], 1 + random.nextInt(MAX_SYSTEM_PROMPT_BLOCKS), nextId));
        }
        List<long[]> open = new ArrayList<>();
        List<TraceRequest> out = new ArrayList<>(requests);
        Map<Long, Long> firstSeen = new HashMap<>();
        double clockMs = 0;
        for (int i = 0; i < requests; i++) {
            long[] prefix = !open.isEmpty() && random.nextDouble() < CONTINUE
                    ? open.remove(random.nextInt(open.size()))
                    : systemPrompts.get(random.nextInt(SYSTEM_PROMPTS));
            int added = 1 + random.nextInt(MAX_TURN_BLOCKS);
            if (prefix.length + added > MAX_BLOCKS) { // the conversation ran out of context: start anew
                prefix = systemPrompts.get(random.nextInt(SYSTEM_PROMPTS));
            }
            long[] keys = freshBlocks(prefix, added, nextId);
            int input = (keys.length - 1) * BLOCK_TOKENS + 1 + random.nextInt(BLOCK_TOKENS);
            int output = MIN_OUTPUT + random.nextInt(MAX_OUTPUT - MIN_OUTPUT + 1);
            out.add(new TraceRequest(i, Math.round(clockMs), input, output, renumber(keys, firstSeen)));
            open.add(keys);
            if (open.size() > OPEN_CONVERSATIONS) {
                open.remove(0);
            }
            clockMs += -Math.log(1 - random.nextDouble()) * 1000 / REQUESTS_PER_SECOND;
        }
        return out;
    }

    /** {@code prefix} followed by {@code added} ids never used before. */
    private static long[] freshBlocks(long[] prefix, int added, long[] nextId) {
        long[] keys = new long[prefix.length + added];
        System.arraycopy(prefix, 0, keys, 0, prefix.length);
        for (int j = prefix.length; j < keys.length; j++) {
            keys[j] = nextId[0]++;
        }
        return keys;
    }

    private static long[] renumber(long[] keys, Map<Long, Long> firstSeen) {
        long[] out = new long[keys.length];
        for (int j = 0; j < keys.length; j++) {
            out[j] = firstSeen.computeIfAbsent(keys[j], k -> (long) firstSeen.size());
        }
        return out;
    }

    /**
     * Writes requests as Mooncake-format JSONL that {@link TraceReader} reads back, replacing
     * any file at {@code path}.
     *
     * @throws UncheckedIOException when the file cannot be written
     */
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
