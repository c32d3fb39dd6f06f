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
 * Copies between this process's memory and another process's private memory with Linux's
 * {@code process_vm_readv} / {@code process_vm_writev}: one copy, by the kernel, with no
 * shared mapping. The kernel allows it only to a process that may ptrace the other
 * ({@code PTRACE_MODE_ATTACH_REALCREDS}: the same user, and with Yama's
 * {@code kernel.yama.ptrace_scope} 1 only a descendant, or a process the other named with
 * {@code prctl(PR_SET_PTRACER)}); a refusal is {@link SidecarProtocol#NO_PROCESS_ACCESS}.
 * An address the other process has not mapped (or maps without the access asked for) is
 * reported as {@code false}, never a fault of this process: the kernel checks each page.
 *
 * <p>Stateless; thread-safe.
 */
final class ProcessMemory {
    private static final int EFAULT = 14;
    private static final int ENOMEM = 12;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    /** {@code struct iovec}: base pointer, length. */
    private static final StructLayout IOVEC = MemoryLayout.structLayout(ValueLayout.ADDRESS.withName("base"),
            ValueLayout.JAVA_LONG.withName("len"));
    private static final FunctionDescriptor RW = FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG);
    private static final MethodHandle READV = handle("process_vm_readv");
    private static final MethodHandle WRITEV = handle("process_vm_writev");
    /** Most iovecs one call takes (Linux's {@code IOV_MAX}, {@code UIO_MAXIOV}). */
    static final int IOV_MAX = 1024;

    private ProcessMemory() {
    }

    private static MethodHandle handle(String name) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), RW,
                Linker.Option.captureCallState("errno"));
    }

    /**
     * Copies {@code into.byteSize()} bytes at {@code address} of process {@code pid} into {@code into}.
     *
     * @return false when the range is not all mapped readable in that process (what was copied
     *         before the hole is in {@code into}, with nothing to rely on)
     * @throws SidecarException NO_PROCESS_ACCESS when the kernel refuses access to that process
     */
    static boolean read(long pid, long address, MemorySegment into) {
        try (Calls calls = new Calls()) {
            return calls.read(pid, address, into);
        }
    }

    /**
     * The memory one thread's calls need (the errno capture and two iovecs), allocated once
     * for many copies. Not thread-safe: one per request; close it.
     */
    static final class Calls implements AutoCloseable {
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment state = arena.allocate(CALL_STATE);
        private final MemorySegment localIov = arena.allocate(IOVEC);
        private final MemorySegment remoteIov = arena.allocate(IOVEC);
        private MemorySegment localIovs;
        private MemorySegment remoteIovs;

        /**
         * Copies each range {@code addresses[i]} of process {@code pid} into {@code into[i]},
         * as many ranges per call as {@link #IOV_MAX} allows (each call has a fixed cost well
         * above a memcpy of a few hundred KiB).
         *
         * @return per range whether it was all mapped readable and copied (a range that was
         *         not may hold part of its bytes, with nothing to rely on)
         * @throws SidecarException NO_PROCESS_ACCESS when the kernel refuses access to that process
         */
        boolean[] readAll(long pid, long[] addresses, MemorySegment[] into) {
            return copyAll(READV, pid, addresses, into);
        }

        /**
         * Copies each {@code from[i]} to {@code addresses[i]} of process {@code pid}, as
         * {@link #readAll} reads.
         *
         * @return per range whether it was all mapped writable and written (a range that was
         *         not may have been written in part)
         * @throws SidecarException NO_PROCESS_ACCESS when the kernel refuses access to that process
         */
        boolean[] writeAll(long pid, long[] addresses, MemorySegment[] from) {
            return copyAll(WRITEV, pid, addresses, from);
        }

        /**
         * The ranges in order, from range {@code i} at {@code skip} bytes: each call takes up to
         * IOV_MAX of them; the kernel stops at the first page it cannot reach and answers the
         * bytes done before it, so the range holding that point fails (once a call from there
         * moves nothing) and the next call starts with the range after it.
         */
        private boolean[] copyAll(MethodHandle call, long pid, long[] addresses, MemorySegment[] local) {
            int n = local.length;
            boolean[] ok = new boolean[n];
            if (localIovs == null) {
                localIovs = arena.allocate(IOVEC, IOV_MAX);
                remoteIovs = arena.allocate(IOVEC, IOV_MAX);
            }
            int i = 0;
            long skip = 0;
            try {
                while (i < n) {
                    int m = Math.min(IOV_MAX, n - i);
                    for (int j = 0; j < m; j++) {
                        long from = j == 0 ? skip : 0;
                        long len = local[i + j].byteSize() - from;
                        long at = IOVEC.byteSize() * j;
                        localIovs.set(ValueLayout.ADDRESS, at, local[i + j].asSlice(from));
                        localIovs.set(ValueLayout.JAVA_LONG, at + 8, len);
                        remoteIovs.set(ValueLayout.ADDRESS, at, MemorySegment.ofAddress(addresses[i + j] + from));
                        remoteIovs.set(ValueLayout.JAVA_LONG, at + 8, len);
                    }
                    long done = (long) call.invokeExact(state, (int) pid, localIovs, (long) m, remoteIovs, (long) m,
                            0L);
                    if (done < 0) {
                        int errno = (int) ERRNO.get(state, 0L);
                        if (errno != EFAULT && errno != ENOMEM) {
                            throw refused(pid, errno);
                        }
                        done = 0; // nothing moved: the first range left is not (all) mapped
                    }
                    boolean moved = false;
                    while (i < n) { // the ranges the call completed, then where it stopped
                        long left = local[i].byteSize() - skip;
                        if (done < left) {
                            break;
                        }
                        done -= left;
                        ok[i++] = true;
                        skip = 0;
                        moved = true;
                    }
                    if (i < n && done > 0) {
                        skip += done; // stopped inside range i: go on from there (a later call fails it, or ends it)
                        moved = true;
                    }
                    if (!moved) {
                        i++; // range i cannot be reached: it fails, the next call starts after it
                        skip = 0;
                    }
                }
                return ok;
            } catch (SidecarException e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException("process_vm call failed: " + e, e);
            }
        }

        /** As {@link ProcessMemory#read}. */
        boolean read(long pid, long address, MemorySegment into) {
            return copy(READV, pid, address, into);
        }

        /**
         * Copies {@code from} to {@code address} of process {@code pid}.
         *
         * @return false when the range is not all mapped writable in that process (a part may have been written)
         * @throws SidecarException NO_PROCESS_ACCESS when the kernel refuses access to that process
         */
        boolean write(long pid, long address, MemorySegment from) {
            return copy(WRITEV, pid, address, from);
        }

        private boolean copy(MethodHandle call, long pid, long address, MemorySegment local) {
            long total = local.byteSize();
            long done = 0;
            try {
                while (done < total) {
                    localIov.set(ValueLayout.ADDRESS, 0, local.asSlice(done));
                    localIov.set(ValueLayout.JAVA_LONG, 8, total - done);
                    remoteIov.set(ValueLayout.ADDRESS, 0, MemorySegment.ofAddress(address + done));
                    remoteIov.set(ValueLayout.JAVA_LONG, 8, total - done);
                    long n = (long) call.invokeExact(state, (int) pid, localIov, 1L, remoteIov, 1L, 0L);
                    if (n < 0) {
                        int errno = (int) ERRNO.get(state, 0L);
                        if (errno == EFAULT || errno == ENOMEM) {
                            return false; // the client's range is not (all) mapped
                        }
                        throw refused(pid, errno);
                    }
                    if (n == 0) {
                        return false; // the first page of what is left is not mapped
                    }
                    done += n;
                }
                return true;
            } catch (SidecarException e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException("process_vm call failed: " + e, e);
            }
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    /**
     * Whether this process may read process {@code pid}'s memory: one byte at {@code address}
     * (an address the client named, so that the answer is about access, not the address).
     *
     * @throws SidecarException NO_PROCESS_ACCESS when the kernel refuses access to that process
     */
    static void probe(long pid, long address) {
        if (pid <= 0) {
            throw new SidecarException(SidecarProtocol.NO_PROCESS_ACCESS, "the client's process is unknown (not on "
                    + "the Unix socket): its private memory cannot be reached; use shared buffers");
        }
        try (Arena arena = Arena.ofConfined()) {
            read(pid, address, arena.allocate(1));
        }
    }

    private static SidecarException refused(long pid, int errno) {
        String why = switch (errno) {
            case 1 -> "EPERM: the kernel refuses (another user, or kernel.yama.ptrace_scope: let the client call "
                    + "prctl(PR_SET_PTRACER, sidecar pid))";
            case 3 -> "ESRCH: no such process";
            case 38 -> "ENOSYS: the kernel has no process_vm calls";
            default -> "errno " + errno;
        };
        return new SidecarException(SidecarProtocol.NO_PROCESS_ACCESS, "cannot reach the memory of process " + pid
                + ": " + why + "; use shared buffers");
    }
}
