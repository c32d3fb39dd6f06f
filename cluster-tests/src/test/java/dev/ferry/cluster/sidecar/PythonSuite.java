package dev.ferry.cluster.sidecar;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a unittest module of clients/python with python3 and asserts that all of it passed,
 * none skipped but for an optional package that is not installed. The interpreter is
 * {@code $FERRY_PYTHON} when set (CI sets Debian's {@code /usr/bin/python3}, which has
 * python3-numpy and python3-torch), else {@code python3} on the PATH.
 */
final class PythonSuite {
    static final Path CLIENT_DIR = Path.of(System.getProperty("user.dir")).resolve("../clients/python").normalize();
    static final String PYTHON = System.getenv().getOrDefault("FERRY_PYTHON", "python3");

    private PythonSuite() {
    }

    /** Whether python3 runs here. */
    static boolean python3Works() {
        try {
            Process p = new ProcessBuilder(PYTHON, "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Runs {@code python3 -m unittest -v module} in clients/python with these environment
     * variables; fails unless it exits 0 within {@code timeoutSeconds} with no test skipped (a
     * test may skip only saying "X is not installed (Debian: python3-X)").
     */
    static void passes(String module, Map<String, String> env, int timeoutSeconds) throws Exception {
        assertThat(CLIENT_DIR.resolve(module + ".py")).exists();
        ProcessBuilder pb = new ProcessBuilder(PYTHON, "-m", "unittest", "-v", module)
                .directory(CLIENT_DIR.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
        Process python = pb.start();
        try {
            String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(python.waitFor(timeoutSeconds, TimeUnit.SECONDS)).isTrue();
            System.out.println(output);
            assertThat(python.exitValue()).as(output).isZero();
            // A test may skip only for an optional package that is not installed (torch, say),
            // and must say so: "... skipped 'torch is not installed (Debian: python3-torch) ...'".
            List<String> skips = output.lines().filter(l -> l.contains(" ... skipped ")).toList();
            assertThat(skips).as(output).allMatch(l -> l.contains(" is not installed (Debian: python3-"));
            String summary = skips.isEmpty() ? "OK" : "OK (skipped=" + skips.size() + ")";
            assertThat(output.lines()).as(output).contains(summary);
            assertThat(output.lines().filter(l -> !skips.contains(l) && !l.equals(summary)))
                    .as(output).noneMatch(l -> l.contains("skipped"));
        } finally {
            python.destroyForcibly();
        }
    }
}
