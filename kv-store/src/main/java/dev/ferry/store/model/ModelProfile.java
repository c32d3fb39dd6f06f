package dev.ferry.store.model;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The shape of a model's KV cache and the figures that model its compute. A KV block holds
 * {@code blockTokens} tokens of shape {@code [layers, 2, blockTokens, kvHeads, headDim]}.
 * Immutable and thread-safe; {@link #byName} is the only method that throws.
 *
 * @param name           profile name, e.g. {@code qwen2.5-0.5b}
 * @param layers         transformer layers
 * @param kvHeads        key/value heads (GQA)
 * @param headDim        dimension of one head
 * @param dtypeBytes     bytes per element (2 for bf16/fp16)
 * @param paramsBillions parameters, billions
 * @param blockTokens    tokens per KV block (512, as in the Mooncake traces)
 */
public record ModelProfile(String name, int layers, int kvHeads, int headDim, int dtypeBytes, double paramsBillions,
                           int blockTokens) {
    private static final List<ModelProfile> KNOWN = List.of(
            // Shapes from each model's config.json on Hugging Face.
            new ModelProfile("llama-3.1-8b", 32, 8, 128, 2, 8.03, 512),
            new ModelProfile("qwen2.5-7b", 28, 4, 128, 2, 7.62, 512),
            new ModelProfile("qwen2.5-0.5b", 24, 2, 64, 2, 0.49, 512),
            // A test profile: small blocks so that tests move little data.
            new ModelProfile("tiny", 2, 1, 64, 2, 0.01, 512),
            // A test profile of 16 KiB blocks: a whole trace at 100 thousand blocks fits in 1.6 GB.
            new ModelProfile("micro", 1, 1, 8, 2, 0.01, 512));

    /** KV bytes per token: {@code layers * 2 * kvHeads * headDim * dtypeBytes}. */
    public long bytesPerToken() {
        return (long) layers * 2 * kvHeads * headDim * dtypeBytes;
    }

    /** Bytes of one KV block: {@code bytesPerToken() * blockTokens}. */
    public long blockBytes() {
        return bytesPerToken() * blockTokens;
    }

    /**
     * Forward-pass FLOPs to prefill {@code tokens} tokens: {@code 2 * params * tokens}, the
     * standard estimate (Kaplan et al., "Scaling Laws for Neural Language Models", 2020),
     * attention's quadratic term left out.
     *
     * @param tokens prompt tokens
     * @return floating-point operations
     */
    public double prefillFlops(long tokens) {
        return 2 * paramsBillions * 1e9 * tokens;
    }

    /**
     * Bytes one decode step reads from accelerator memory: the weights plus the KV cache of
     * the context (decode is memory-bound, so its step time is this over memory bandwidth).
     *
     * @param contextTokens tokens already in the KV cache
     * @return bytes: {@code paramsBillions * 1e9 * dtypeBytes + contextTokens * bytesPerToken()}
     */
    public double decodeStepBytes(long contextTokens) {
        return paramsBillions * 1e9 * dtypeBytes + (double) contextTokens * bytesPerToken();
    }

    /** The known profiles, in a fixed order; an immutable list. */
    public static List<ModelProfile> known() {
        return KNOWN;
    }

    /**
     * The known profile of that name, ignoring case.
     *
     * @throws IllegalArgumentException naming the known profiles when {@code name} is not one
     */
    public static ModelProfile byName(String name) {
        String wanted = name.toLowerCase(Locale.ROOT);
        return KNOWN.stream().filter(p -> p.name.equals(wanted)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown model profile '" + name + "'; known: "
                        + KNOWN.stream().map(ModelProfile::name).collect(Collectors.joining(", "))));
    }
}
