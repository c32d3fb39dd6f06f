package dev.ferry.store.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CountDownLatch;

/**
 * Lifecycle of a Ferry process: announce readiness with one line on stdout, then run until
 * SIGTERM/SIGINT, or, for a process started by a parent (a local cluster) that set
 * {@value #EXIT_ON_STDIN_CLOSE}, until stdin closes (the parent died or let go); close
 * resources in reverse order of opening. A process started by hand or by a service manager
 * (stdin at /dev/null) runs until it is signalled. SIGTERM and SIGINT are handled (not left
 * to the JVM's default, which exits 143 or 130): once the resources are closed the command
 * returns and the process exits 0; a close that takes longer than its grace (by default
 * {@value #STOP_GRACE_SECONDS} s) is cut short with exit status 128 + the signal's number.
 */
public final class ProcessSupport {
    /** Prefix of the line a process prints once it serves; a parent waits for it. */
    public static final String READY = "FERRY-READY";
    /** System property a parent sets on its children: end of stdin then stops the child. */
    public static final String EXIT_ON_STDIN_CLOSE = "ferry.exitOnStdinClose";
    /** Longest a stop may take once asked for, by default, seconds. */
    public static final int STOP_GRACE_SECONDS = 10;

    private ProcessSupport() {
    }

    /** Prints {@code FERRY-READY key=value ...}. */
    public static void announceReady(String fields) {
        System.out.println(READY + " " + fields);
        System.out.flush();
    }

    /**
     * {@link #runUntilStopped(boolean, AutoCloseable...)}, watching stdin when the system
     * property {@value #EXIT_ON_STDIN_CLOSE} is {@code true}.
     */
    public static void runUntilStopped(AutoCloseable... resources) {
        runUntilStopped(Boolean.getBoolean(EXIT_ON_STDIN_CLOSE), resources);
    }

    /**
     * Blocks until the process is asked to stop, then closes {@code resources} last to first.
     *
     * @param watchStdin whether end of stdin also stops the process
     */
    public static void runUntilStopped(boolean watchStdin, AutoCloseable... resources) {
        runUntilStopped(watchStdin, STOP_GRACE_SECONDS * 1000L, resources);
    }

    /**
     * Blocks until the process is asked to stop, then closes {@code resources} last to first,
     * allowing them {@code graceMillis} ms (a drain) before the process exits anyway.
     *
     * @param watchStdin whether end of stdin also stops the process
     */
    public static void runUntilStopped(boolean watchStdin, long graceMillis, AutoCloseable... resources) {
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                // Keep the JVM alive until the resources are closed (slab files removed).
                closed.await(graceMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "ferry-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> {
                    stop.countDown();
                    Thread watchdog = new Thread(() -> {
                        try {
                            if (!closed.await(graceMillis, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                                Runtime.getRuntime().halt(128 + signal.getNumber());
                            }
                        } catch (InterruptedException ignored) {
                            Thread.currentThread().interrupt();
                        }
                    }, "ferry-stop-watchdog");
                    watchdog.setDaemon(true);
                    watchdog.start();
                });
            } catch (IllegalArgumentException unavailable) {
                // the JVM keeps this signal (-Xrs): its default applies, the shutdown hook still closes
            }
        }
        if (watchStdin) {
            Thread watcher = new Thread(() -> {
                try (InputStream in = System.in) {
                    while (in.read() >= 0) {
                        // drain until the parent closes the pipe
                    }
                } catch (IOException ignored) {
                    // a broken pipe means the same: the parent is gone
                }
                stop.countDown();
            }, "ferry-stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(resources);
        closed.countDown();
    }

    /** Closes last to first, ignoring failures (shutdown must finish). */
    public static void closeQuietly(AutoCloseable... resources) {
        for (int i = resources.length - 1; i >= 0; i--) {
            try {
                if (resources[i] != null) {
                    resources[i].close();
                }
            } catch (Exception e) {
                System.err.println("ferry: error while closing " + resources[i] + ": " + e);
            }
        }
    }
}
