package dev.ferry.cluster.cli;

/** Exit codes of the {@code ferry} command. */
public final class ExitCodes {
    /** Everything worked. */
    public static final int OK = 0;
    /** Bad input or a failure to start (the message says which). */
    public static final int BAD_INPUT = 1;
    /** Picocli's code for unknown options. */
    public static final int USAGE = 2;
    /**
     * Some requests failed (a transfer failed), or a process of the cluster died during the
     * replay (the report of the requests that ran is written all the same).
     */
    public static final int REQUESTS_FAILED = 3;
    /** Some blocks failed verification: data was corrupted. */
    public static final int VERIFY_FAILED = 4;

    private ExitCodes() {
    }
}
