package dev.ferry.nativemem;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What this machine offers Ferry: CPU cores, memory, whether {@code /dev/shm} exists, and
 * whether a CUDA driver library can be loaded. A machine without CUDA is a normal case:
 * the GPU tier is then absent.
 *
 * @param cpus          available processors
 * @param maxHeapBytes  the JVM's maximum heap, bytes
 * @param devShm        whether {@code /dev/shm} is a directory (shared slabs possible)
 * @param cudaDriver    whether {@code libcuda.so.1} loads in this process
 */
public record MachineInfo(int cpus, long maxHeapBytes, boolean devShm, boolean cudaDriver) {

    /** Probes the running machine. Cheap; safe to call from any thread. */
    public static MachineInfo probe() {
        return new MachineInfo(
                Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().maxMemory(),
                Files.isDirectory(Path.of("/dev/shm")),
                canLoad("libcuda.so.1"));
    }

    private static boolean canLoad(String library) {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(library, arena);
            return true;
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            return false;
        }
    }

    /** One line for logs and reports, e.g. {@code "2 cpus, /dev/shm, no CUDA driver"}. */
    public String describe() {
        return cpus + " cpus, " + (devShm ? "/dev/shm" : "no /dev/shm") + ", "
                + (cudaDriver ? "CUDA driver present" : "no CUDA driver (a GPU tier runs on host memory standing in)");
    }
}
