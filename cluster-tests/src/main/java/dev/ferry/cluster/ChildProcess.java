package dev.ferry.cluster;

import dev.ferry.store.cli.ProcessSupport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One Ferry JVM started by this one: same classpath and JVM flags, its output copied to a
 * log file, its {@code FERRY-READY} line awaited, stopped by closing its stdin and SIGTERM
 * (SIGKILL after 10 s).
 *
 * <p>Thread-safe.
 */
public final class ChildProcess {
    /** Longest wait for the ready line, s. */
    private static final long START_TIMEOUT_SECONDS = 60;

    private final String name;
    private final Process process;
    private final CompletableFuture<String> ready = new CompletableFuture<>();
    private final Deque<String> tail = new ArrayDeque<>();
    /** Set once this side asked the process to end ({@link #stop()}, {@link #kill()}). */
    private volatile boolean ended;

    private ChildProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        Thread pump = new Thread(() -> pump(log), "ferry-log-" + name);
        pump.setDaemon(true);
        pump.start();
    }

    /**
     * Starts {@code mainClass} in a new JVM.
     *
     * @param prefix  command words before {@code java} (e.g. {@code ip netns exec NS}), or none
     * @param log     where its output goes
     * @throws IllegalStateException if it cannot be started
     */
    public static ChildProcess start(String name, List<String> prefix, String mainClass, List<String> args, Path log) {
        List<String> command = new ArrayList<>(prefix);
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(LocalCluster.childJvmFlags());
        command.add("-D" + ProcessSupport.EXIT_ON_STDIN_CLOSE + "=true"); // no process outlives its parent
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(args);
        try {
            Files.createDirectories(log.toAbsolutePath().getParent());
            return new ChildProcess(name, new ProcessBuilder(command).redirectErrorStream(true).start(), log);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + name + ": " + e.getMessage(), e);
        }
    }

    public String name() {
        return name;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL, as a crash. */
    public void kill() {
        ended = true;
        process.destroyForcibly();
    }

    /** The process id. */
    public long pid() {
        return process.pid();
    }

    /**
     * Runs {@code action} with this process once it exits without having been asked to
     * ({@link #stop()}, {@link #kill()}): a crash, an error, a kill from outside. Runs on a
     * thread of the JDK's; at most once.
     */
    public void onUnexpectedExit(java.util.function.Consumer<ChildProcess> action) {
        process.onExit().thenRun(() -> {
            if (!ended) {
                action.accept(this);
            }
        });
    }

    /**
     * How the process ended, for a report: {@code "exit code N"}, with the signal when it
     * was killed by one (a JVM reports 128 + the signal number); "still running" before.
     */
    public String describeExit() {
        if (process.isAlive()) {
            return "still running";
        }
        int code = process.exitValue();
        return switch (code) {
            case 137 -> "exit code 137, killed by SIGKILL";
            case 143 -> "exit code 143, ended by SIGTERM";
            case 134 -> "exit code 134, aborted (SIGABRT)";
            case 139 -> "exit code 139, crashed (SIGSEGV)";
            default -> "exit code " + code;
        };
    }

    private void pump(Path log) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8)); PrintWriter out = new PrintWriter(Files.newBufferedWriter(log))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.startsWith(ProcessSupport.READY)) {
                    ready.complete(line);
                }
                out.println(line);
                out.flush();
                synchronized (tail) {
                    tail.addLast(line);
                    if (tail.size() > 8) {
                        tail.removeFirst();
                    }
                }
            }
        } catch (IOException ignored) {
            // the process is gone
        }
        ready.completeExceptionally(new IllegalStateException(name + " exited (code " + exitCode()
                + ") before it was ready: " + tail()));
    }

    private String exitCode() {
        try {
            return process.waitFor(2, TimeUnit.SECONDS) ? Integer.toString(process.exitValue()) : "still running";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "?";
        }
    }

    private String tail() {
        synchronized (tail) {
            return String.join(" | ", tail);
        }
    }

    /**
     * Waits for the ready line.
     *
     * @throws IllegalStateException with the tail of the log when the process exits or is not
     *                               ready in time
     */
    public void awaitReady() {
        awaitReady(START_TIMEOUT_SECONDS);
    }

    /**
     * Waits for the ready line up to {@code seconds}: for a process whose start takes longer
     * than most (a store node populating a large slab).
     *
     * @throws IllegalStateException with the tail of the log when the process exits or is not
     *                               ready in time
     */
    public void awaitReady(long seconds) {
        try {
            ready.get(seconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException(name + " was not ready within " + seconds + " s: " + tail());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting " + name);
        }
    }

    /** The value of {@code key=value} in the ready line (waits for it). */
    public String field(String key) {
        awaitReady();
        for (String part : ready.join().split(" ")) {
            if (part.startsWith(key + "=")) {
                return part.substring(key.length() + 1);
            }
        }
        throw new IllegalStateException(name + " ready line lacks " + key + ": " + ready.join());
    }

    /** Asks the process to stop: closes its stdin and sends SIGTERM. */
    public void stop() {
        ended = true;
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // already closed
        }
        process.destroy();
    }

    /** Sends SIGTERM only (stdin stays open). */
    public void terminate() {
        process.destroy();
    }

    /**
     * The exit status, once exited.
     *
     * @throws IllegalThreadStateException while the process runs
     */
    public int exitValue() {
        return process.exitValue();
    }

    /** Waits up to 10 s for the exit, then kills. */
    public void awaitExit() {
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
