package dev.ferry.transfer.segment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The identity of this host for deciding whether two processes can share memory (the
 * shared-memory transport and Aeron IPC are chosen only between processes of equal
 * identity). In order of precedence:
 * <ol>
 *   <li>the system property {@value #PROPERTY},</li>
 *   <li>the environment variable {@value #ENV},</li>
 *   <li>the kernel's boot id ({@code /proc/sys/kernel/random/boot_id}), unique per boot of a
 *       machine.</li>
 * </ol>
 * The boot id is equal across the network namespaces and containers of one machine, which
 * may share {@code /dev/shm} or not: give each such "host" an identity of its own with
 * {@value #ENV} when its processes must never use shared memory with another's (or the same
 * identity where they share {@code /dev/shm} and should). A blank setting counts as unset.
 * Empty where nothing can be read, which turns shared memory off.
 *
 * <p>Thread-safe: read once, when the class loads.
 */
public final class HostIdentity {
    /** The system property that sets this host's identity. */
    public static final String PROPERTY = "ferry.host.id";
    /** The environment variable that sets this host's identity (below {@value #PROPERTY}). */
    public static final String ENV = "FERRY_HOST_ID";

    private static final String ID = resolve(System.getProperty(PROPERTY), System.getenv(ENV),
            Path.of("/proc/sys/kernel/random/boot_id"));

    private HostIdentity() {
    }

    /** This host's id, or empty. */
    public static String id() {
        return ID;
    }

    /**
     * The identity from a property, an environment variable and a boot id file, in that
     * order of precedence (null or blank values are skipped; an unreadable file gives empty).
     */
    static String resolve(String property, String env, Path bootId) {
        if (property != null && !property.isBlank()) {
            return property.trim();
        }
        if (env != null && !env.isBlank()) {
            return env.trim();
        }
        try {
            return Files.readString(bootId).trim();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
