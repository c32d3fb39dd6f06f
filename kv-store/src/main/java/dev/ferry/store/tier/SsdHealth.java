package dev.ferry.store.tier;

/**
 * Whether an {@link SsdTier} can take writes now. Reads work in every state while the
 * database is open; only writes (puts, removals) are refused outside {@link #OK}.
 *
 * <p>The wire code ({@link #code()}) is what a store node sends the master in its heartbeat;
 * it never changes for a value.
 */
public enum SsdHealth {
    /** Writes are accepted. */
    OK(0),
    /** The file system under the tier has no room left ({@code ENOSPC}): writes fail at once until space comes back. */
    FULL(1),
    /** A write failed with another I/O error: writes fail at once until a retry succeeds. */
    FAILING(2);

    private final int code;

    SsdHealth(int code) {
        this.code = code;
    }

    /** The value's code on the wire, 0 to 2. */
    public int code() {
        return code;
    }

    /**
     * @throws IllegalArgumentException for a code that names no value
     */
    public static SsdHealth ofCode(int code) {
        for (SsdHealth h : values()) {
            if (h.code == code) {
                return h;
            }
        }
        throw new IllegalArgumentException("unknown SSD health code " + code);
    }
}
