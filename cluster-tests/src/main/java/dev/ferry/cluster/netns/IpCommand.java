package dev.ferry.cluster.netns;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one iproute2 command ({@code ip ...}) and reads what it printed. Each call waits at
 * most 10 s. Thread-safe (stateless).
 */
final class IpCommand {
    /** What a command printed and how it ended. */
    record Result(int exitCode, String output) {
        boolean ok() {
            return exitCode == 0;
        }
    }

    private IpCommand() {
    }

    /**
     * Runs {@code command}.
     *
     * @throws IllegalStateException naming the command and what it printed when it fails
     */
    static String must(List<String> command) {
        Result r = run(command);
        if (!r.ok()) {
            throw new IllegalStateException("'" + String.join(" ", command) + "' failed with exit code " + r.exitCode()
                    + (r.output().isBlank() ? "" : ": " + r.output().trim()));
        }
        return r.output();
    }

    /** Runs {@code command}; a command that cannot be started or does not end in time gives exit code -1. */
    static Result run(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] output = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, "did not end within 10 s");
            }
            return new Result(p.exitValue(), new String(output, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }
}
