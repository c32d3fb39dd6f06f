package dev.ferry.store.rpc;

/**
 * A failed call: an error answer from the remote handler (with its status code and text),
 * a malformed payload, a lost connection or a timeout.
 */
public final class RpcException extends RuntimeException {
    /** The remote handler refused the request (bad input, unknown key...). */
    public static final int REFUSED = 1;
    /** The payload could not be decoded. */
    public static final int MALFORMED = 2;
    /** The connection was lost or could not be made. */
    public static final int UNAVAILABLE = 3;
    /** No answer within the timeout. */
    public static final int TIMEOUT = 4;
    /** The handler failed unexpectedly. */
    public static final int INTERNAL = 5;
    /** The store has no room (and nothing evictable). */
    public static final int NO_SPACE = 6;
    /** A lease expired or a key vanished during the operation. */
    public static final int CONFLICT = 7;
    /** The handler cannot serve the request yet (room is being made): retry shortly. */
    public static final int BUSY = 8;
    /**
     * The server is not (or no longer) the master's leader, or its answer came from an epoch
     * older than one already seen: call the current leader. The call was not acted on by a
     * leader whose state survives.
     */
    public static final int NOT_LEADER = 9;
    /**
     * A commit for a put that a former leader started: the leader that answers never started
     * it (its term began from an empty directory) and published nothing; put the blocks again.
     */
    public static final int STALE_PUT = 10;

    private final int status;
    private final boolean notSent;

    public RpcException(int status, String message) {
        this(status, message, false);
    }

    private RpcException(int status, String message, boolean notSent) {
        super(message);
        this.status = status;
        this.notSent = notSent;
    }

    /**
     * An {@link #UNAVAILABLE} failure of a request that never left this process (no
     * connection could be made): resending it cannot make the server act on it twice.
     */
    public static RpcException notSent(String message) {
        return new RpcException(UNAVAILABLE, message, true);
    }

    public RpcException(int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.notSent = false;
    }

    /** Whether the request is known not to have reached the server ({@link #notSent(String)}). */
    public boolean notSent() {
        return notSent;
    }

    /** One of the status constants of this class. */
    public int status() {
        return status;
    }
}
