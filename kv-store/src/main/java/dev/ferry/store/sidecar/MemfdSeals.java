package dev.ferry.store.sidecar;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Reads the seals of a memfd ({@code fcntl(fd, F_GET_SEALS)}, Linux, through
 * {@code java.lang.foreign}): the sidecar maps a client's memfd only when it is sealed
 * against shrinking, so that no client can make the sidecar's accesses to its buffer fault.
 *
 * <p>Stateless; thread-safe.
 */
final class MemfdSeals {
    /** {@code F_SEAL_SHRINK}: the file cannot be made smaller. */
    static final int SEAL_SHRINK = 0x0002;
    private static final int F_GET_SEALS = 1034;
    private static final MethodHandle FCNTL = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("fcntl").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));

    private MemfdSeals() {
    }

    /** The seals of {@code fd}, or -1 when it has none to read (not a memfd, or not sealable). */
    static int of(int fd) {
        try {
            return (int) FCNTL.invokeExact(fd, F_GET_SEALS, 0);
        } catch (Throwable e) {
            return -1;
        }
    }
}
