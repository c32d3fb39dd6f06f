package dev.ferry.prefill.trace;

/** A trace that cannot be read; the message names the file and the 1-based line. */
public final class TraceFormatException extends RuntimeException {
    private final long lineNumber;

    public TraceFormatException(String message, long lineNumber) {
        super(message);
        this.lineNumber = lineNumber;
    }

    /** 1-based line of the problem, 0 when it concerns the whole file. */
    public long lineNumber() {
        return lineNumber;
    }
}
