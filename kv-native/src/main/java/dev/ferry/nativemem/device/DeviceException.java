package dev.ferry.nativemem.device;

/**
 * A device call failed: the driver returned an error (its name is in the message), or an
 * asynchronous copy failed. Subclasses name the cases a caller may handle.
 */
public class DeviceException extends RuntimeException {
    /** @param message what failed, with the driver's error name where there is one */
    public DeviceException(String message) {
        super(message);
    }

    /** @param message what failed; @param cause the underlying error */
    public DeviceException(String message, Throwable cause) {
        super(message, cause);
    }
}
