package dev.ferry.store.sidecar;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few Linux file calls the sidecar's shared buffers need and Java does not offer
 * ({@code open}, {@code close}, {@code memfd_create}, {@code ftruncate}, {@code fcntl} for
 * seals), through {@code java.lang.foreign}: one place for their handles and for turning
 * {@code errno} into a message.
 *
 * <p>Stateless; thread-safe. Methods that fail throw {@link java.io.UncheckedIOException}
 * naming the call and {@code strerror(errno)}.
 */
final class PosixFiles {
    /** {@code F_SEAL_SHRINK}: the file cannot be made smaller. */
    static final int SEAL_SHRINK = 0x0002;
    /** {@code F_SEAL_GROW}: the file cannot be made larger. */
    static final int SEAL_GROW = 0x0004;
    /** {@code F_SEAL_SEAL}: no more seals may be added. */
    static final int SEAL_SEAL = 0x0001;
    private static final int O_RDWR = 02;
    private static final int O_CLOEXEC = 02000000;
    private static final int O_NOCTTY = 0400;
    private static final int O_NONBLOCK = 04000;
    private static final int MFD_CLOEXEC = 1;
    private static final int MFD_ALLOW_SEALING = 2;
    private static final int F_ADD_SEALS = 1033;
    private static final int F_GET_SEALS = 1034;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");
    private static final MethodHandle OPEN = handle("open", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.ADDRESS, ValueLayout.JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT));
    private static final MethodHandle MEMFD_CREATE = handle("memfd_create", FunctionDescriptor.of(
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle FTRUNCATE = handle("ftruncate", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle FCNTL = handle("fcntl", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final int FIONREAD = 0x541B;
    private static final MethodHandle IOCTL = handle("ioctl", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LINKER.defaultLookup().find("strerror")
            .orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS.withTargetLayout(
                    MemoryLayout.sequenceLayout(256, ValueLayout.JAVA_BYTE)), ValueLayout.JAVA_INT));

    private PosixFiles() {
    }

    private static MethodHandle handle(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        Linker.Option[] all = java.util.Arrays.copyOf(options, options.length + 1);
        all[options.length] = ERRNO_OPTION;
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), descriptor, all);
    }

    /**
     * Opens {@code path} read-write (following links, as {@code /proc/PID/fd/N} needs), never
     * blocking and never taking a terminal as the process's own; returns the descriptor.
     */
    static int openReadWrite(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
            return check(fd, state, "open " + path);
        } catch (java.io.UncheckedIOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("open failed: " + e, e);
        }
    }

    /** Creates a memfd that may be sealed; returns its descriptor. */
    static int memfdCreate(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) MEMFD_CREATE.invokeExact(state, arena.allocateFrom(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
            return check(fd, state, "memfd_create");
        } catch (java.io.UncheckedIOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("memfd_create failed: " + e, e);
        }
    }

    /** Sets the size of {@code fd}, bytes. */
    static void truncate(int fd, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            check((int) FTRUNCATE.invokeExact(state, fd, bytes), state, "ftruncate");
        } catch (java.io.UncheckedIOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("ftruncate failed: " + e, e);
        }
    }

    /** Adds {@code seals} ({@link #SEAL_SHRINK} and others) to a memfd. */
    static void addSeals(int fd, int seals) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            check((int) FCNTL.invokeExact(state, fd, F_ADD_SEALS, seals), state, "fcntl F_ADD_SEALS");
        } catch (java.io.UncheckedIOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("fcntl failed: " + e, e);
        }
    }

    /** The seals of {@code fd}, or -1 when it has none to read (not a memfd or another shmem file). */
    static int seals(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return (int) FCNTL.invokeExact(state, fd, F_GET_SEALS, 0);
        } catch (Throwable e) {
            return -1;
        }
    }

    /** Bytes waiting to be read on the socket {@code fd} ({@code FIONREAD}), or -1 when unknown. */
    static int readable(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            int r = (int) IOCTL.invokeExact(state, fd, (long) FIONREAD, count);
            return r < 0 ? -1 : count.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable e) {
            return -1;
        }
    }

    /** Closes {@code fd}, quietly (a descriptor that cannot be closed is gone either way). */
    static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int ignored = (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable ignored) {
            // nothing more to do
        }
    }

    private static int check(int result, MemorySegment state, String call) throws Throwable {
        if (result >= 0) {
            return result;
        }
        int errno = (int) ERRNO.get(state, 0L);
        MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
        throw new java.io.UncheckedIOException(new java.io.IOException(call + " failed: " + text.getString(0)));
    }
}
