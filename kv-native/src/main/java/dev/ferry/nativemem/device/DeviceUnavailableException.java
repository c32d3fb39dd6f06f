package dev.ferry.nativemem.device;

/**
 * The device memory asked for cannot be opened here: no CUDA driver library, JCuda's native
 * library does not load, or no device of the asked ordinal. A machine without CUDA is a
 * normal case; {@link DeviceMemories#open(DeviceChoice, int)} with {@link DeviceChoice#AUTO}
 * falls back to host memory instead of throwing this.
 */
public class DeviceUnavailableException extends DeviceException {
    /** @param message why, e.g. {@code "no CUDA driver: libcuda.so.1 does not load"} */
    public DeviceUnavailableException(String message) {
        super(message);
    }

    /** @param message why; @param cause the underlying error (e.g. an UnsatisfiedLinkError) */
    public DeviceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
