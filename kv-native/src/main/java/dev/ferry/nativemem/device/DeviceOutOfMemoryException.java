package dev.ferry.nativemem.device;

/** A pool does not fit in what the device has free. Nothing was allocated. */
public class DeviceOutOfMemoryException extends DeviceException {
    /** @param message the size asked for and what was free */
    public DeviceOutOfMemoryException(String message) {
        super(message);
    }
}
