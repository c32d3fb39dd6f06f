package dev.ferry.store.sidecar;

/**
 * A request the sidecar refuses or could not serve: answered with {@link #status()} (one of
 * the status codes of {@link SidecarProtocol}) and the message; the connection stays open.
 */
public final class SidecarException extends RuntimeException {
    private final int status;

    public SidecarException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** A status code of {@link SidecarProtocol}. */
    public int status() {
        return status;
    }

    @Override
    public String getMessage() {
        return SidecarProtocol.statusName(status) + ": " + super.getMessage();
    }

    /** The message without the status name. */
    public String reason() {
        return super.getMessage();
    }
}
