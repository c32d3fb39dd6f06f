package dev.ferry.prefill.trace;

/**
 * A trace that cannot be read: a missing or empty file, or a line that is not a valid
 * Mooncake-format request. The message names the file, the 1-based line and what is wrong,
 * e.g. {@code traces/t.jsonl:7: missing field 'hash_ids'}. Unchecked, since a bad trace is a
 * user error to report, not to recover from. Immutable.
 */
public final class TraceFormatException extends RuntimeException {
    private final long lineNumber;

    /**
     * @param message    the whole message, naming the file and line
     * @param lineNumber 1-based line of the problem, 0 when it concerns the whole file
     */
    public TraceFormatException(String message, long lineNumber) {
        super(message);
        this.lineNumber = lineNumber;
    }

    /** 1-based line of the problem, 0 when it concerns the whole file. */
    public long lineNumber() {
        return lineNumber;
    }
}
