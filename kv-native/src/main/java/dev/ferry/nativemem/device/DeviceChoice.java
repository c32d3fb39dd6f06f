package dev.ferry.nativemem.device;

import java.util.Locale;

/** Which device memory to open: a command line's {@code --gpu-memory host|cuda|auto}. */
public enum DeviceChoice {
    /** Host memory standing in for a GPU, even where CUDA is present. */
    HOST,
    /** CUDA, or fail with {@link DeviceUnavailableException}. */
    CUDA,
    /** CUDA when a driver and a device are present, otherwise host memory. */
    AUTO;

    /**
     * Parses {@code host}, {@code cuda} or {@code auto}, in any case.
     *
     * @throws IllegalArgumentException naming the accepted values otherwise
     */
    public static DeviceChoice parse(String text) {
        if (text != null) {
            for (DeviceChoice choice : values()) {
                if (choice.name().equalsIgnoreCase(text.strip())) {
                    return choice;
                }
            }
        }
        throw new IllegalArgumentException("GPU memory must be host, cuda or auto, was '" + text + "'");
    }

    /** The lower-case name that {@link #parse} accepts. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
