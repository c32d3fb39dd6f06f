package dev.ferry.transfer.segment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The identity of this host for deciding whether two processes can share memory: the
 * kernel's boot id ({@code /proc/sys/kernel/random/boot_id}), unique per boot of a machine
 * and equal across its network namespaces. Empty where it cannot be read, which turns
 * shared memory off.
 */
public final class HostIdentity {
    private static final String ID = read();

    private HostIdentity() {
    }

    /** This host's id, or empty. */
    public static String id() {
        return ID;
    }

    private static String read() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
