package dev.ferry.transfer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The CPU time this JVM's JIT compiler threads (HotSpot's {@code C1 CompilerThread} and
 * {@code C2 CompilerThread}, which {@link java.lang.management.ThreadMXBean} does not list)
 * have used, read from Linux's {@code /proc/self/task/<tid>/stat}. It counts a compilation
 * while it runs, unlike {@link java.lang.management.CompilationMXBean#getTotalCompilationTime},
 * which adds a compilation's time only when it finishes (one C2 compilation of a large
 * method can take hundreds of milliseconds on a busy machine).
 *
 * <p>Resolution: the kernel's clock tick, {@value #TICK_MILLIS} ms. Compiler threads come and
 * go ({@code -XX:+UseDynamicNumberOfCompilerThreads}), so the total counts the threads alive
 * at the call; the CPU time of one that exited is lost, which only makes the JIT look quieter
 * than it was after a burst.
 *
 * <p>Stateless; thread-safe.
 */
final class JitCompilerCpu {
    /** Milliseconds per clock tick ({@code getconf CLK_TCK} is 100 on Linux x86-64 and arm64). */
    static final long TICK_MILLIS = 10;
    private static final Path TASKS = Path.of("/proc/self/task");

    private JitCompilerCpu() {
    }

    /** Whether this platform exposes per-thread CPU times in {@code /proc} (Linux). */
    static boolean available() {
        return Files.isDirectory(TASKS);
    }

    /**
     * @return user plus system CPU time of the JIT compiler threads alive now, ms
     * @throws UncheckedIOException when {@code /proc/self/task} cannot be listed
     */
    static long millis() {
        long ticks = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(TASKS)) {
            for (Path task : tasks) {
                ticks += compilerTicks(task);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + TASKS, e);
        }
        return ticks * TICK_MILLIS;
    }

    /** The thread's utime + stime in ticks when it is a compiler thread, else 0 (also when it just exited). */
    private static long compilerTicks(Path task) {
        try {
            String name = Files.readString(task.resolve("comm")).trim();
            if (!name.startsWith("C1 CompilerThre") && !name.startsWith("C2 CompilerThre")) {
                return 0;
            }
            return cpuTicks(Files.readString(task.resolve("stat")));
        } catch (IOException e) {
            return 0; // a thread that exited between the listing and the read
        }
    }

    /**
     * utime + stime of one {@code /proc/<pid>/task/<tid>/stat} line (fields 14 and 15, counted
     * after the command name in parentheses, which may itself hold spaces).
     */
    static long cpuTicks(String stat) {
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
        // fields[0] is field 3 (state): utime (14) and stime (15) are fields[11] and fields[12].
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }
}
