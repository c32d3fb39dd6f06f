package dev.ferry.nativemem;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.lang.foreign.ValueLayout;

/**
 * Lowers the CPU priority of the calling thread for background work that must not take
 * cores from transfers: Linux's {@code setpriority(PRIO_PROCESS, gettid(), nice)} applies to
 * that one thread, and a thread at nice 19 gets about 1.5% of a core that a nice-0 thread
 * also wants (CFS weights 15 against 1,024, kernel/sched/core.c {@code sched_prio_to_weight}),
 * all of an idle one. Raising a thread's niceness needs no privilege; it cannot be undone
 * without one.
 *
 * <p>Stateless; thread-safe.
 */
public final class BackgroundPriority {
    /** The lowest priority Linux gives a thread. */
    public static final int LOWEST_NICE = 19;

    private static final int PRIO_PROCESS = 0;
    private static final MethodHandle GETTID;
    private static final MethodHandle SETPRIORITY;

    static {
        Linker linker = Linker.nativeLinker();
        GETTID = linker.defaultLookup().find("gettid").map(a -> linker.downcallHandle(a,
                FunctionDescriptor.of(ValueLayout.JAVA_INT))).orElse(null);
        SETPRIORITY = linker.defaultLookup().find("setpriority").map(a -> linker.downcallHandle(a,
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT))).orElse(null);
    }

    private BackgroundPriority() {
    }

    /**
     * Sets the calling thread's niceness to {@value #LOWEST_NICE}.
     *
     * @return whether the kernel took it (false where the C library has no {@code gettid} or
     *         {@code setpriority}, or the call failed: the thread then keeps its priority)
     * @throws IllegalStateException on a virtual thread (it would lower its carrier, which
     *                               other virtual threads share)
     */
    public static boolean lowerCurrentThread() {
        if (Thread.currentThread().isVirtual()) {
            throw new IllegalStateException("a virtual thread's priority is its carrier's: lower a platform thread");
        }
        if (GETTID == null || SETPRIORITY == null) {
            return false;
        }
        try {
            int tid = (int) GETTID.invokeExact();
            return (int) SETPRIORITY.invokeExact(PRIO_PROCESS, tid, LOWEST_NICE) == 0;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("setpriority call failed", e);
        }
    }
}
