package dev.ferry.prefill.trace;

/**
 * One request of a trace in the Mooncake FAST'25 format. Immutable by convention: the
 * {@code blockKeys} array is shared, and no one may write to it after construction.
 *
 * @param index        0-based position in the trace (blank lines not counted)
 * @param timestampMs  arrival, ms after the first request
 * @param inputTokens  prompt tokens
 * @param outputTokens generated tokens
 * @param blockKeys    prefix block hashes, one per 512-token block; equal ids at equal
 *                     positions mean a reusable prefix
 */
public record TraceRequest(int index, long timestampMs, int inputTokens, int outputTokens, long[] blockKeys) {
}
