package dev.ferry.store.sidecar;

/**
 * Probes another process's memory with {@link ProcessMemory#probe} and prints the outcome on
 * one line ({@code reached}, or {@code refused STATUS REASON}): run by
 * {@link ProcessMemoryTest} as another user, where root would reach every process.
 */
final class ProcessMemoryProbeMain {
    private ProcessMemoryProbeMain() {
    }

    public static void main(String[] args) {
        try {
            ProcessMemory.probe(Long.parseLong(args[0]), Long.parseLong(args[1]));
            System.out.println("reached");
        } catch (SidecarException e) {
            System.out.println("refused " + e.status() + " " + e.reason());
        }
    }
}
