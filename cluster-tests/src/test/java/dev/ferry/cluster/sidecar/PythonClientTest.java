package dev.ferry.cluster.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.cluster.ChildProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python client's own unittest suite (clients/python) against a real sidecar started
 * with {@code ferry sidecar} in a child JVM, on its Unix socket and on loopback TCP with a
 * token; then it is stopped (stdin closed and SIGTERM)
 * and must have removed its socket. Skipped, saying why, only when python3 is not installed.
 */
class PythonClientTest {
    private static final String TOKEN = "py-test-token";
    private static final Path CLIENT_DIR = Path.of(System.getProperty("user.dir")).resolve("../clients/python")
            .normalize();

    @Test
    void pythonClientSuitePassesAgainstARealSidecar(@TempDir Path dir) throws Exception {
        assumeTrue(python3Version() != null, "python3 is not installed (.ci/run installs it): Python client not tested");
        assertThat(CLIENT_DIR.resolve("test_ferry_client.py")).exists();
        Path socket = dir.resolve("sidecar.sock");
        ChildProcess sidecar = ChildProcess.start("sidecar", List.of(), "dev.ferry.cluster.cli.FerryCommand",
                List.of("sidecar", "--socket", socket.toString(), "--capacity", "64MiB", "--node-id",
                        "py-" + ProcessHandle.current().pid(), "--tcp", "127.0.0.1:0", "--token", TOKEN,
                        "--frame-timeout-ms", "1000", "--exit-on-stdin-close"), dir.resolve("sidecar.log"));
        try {
            assertThat(sidecar.field("socket")).isEqualTo(socket.toString());
            ProcessBuilder pb = new ProcessBuilder("python3", "-m", "unittest", "-v", "test_ferry_client")
                    .directory(CLIENT_DIR.toFile()).redirectErrorStream(true);
            pb.environment().put("FERRY_SIDECAR_SOCKET", socket.toString());
            pb.environment().put("FERRY_SIDECAR_TCP", "127.0.0.1:" + sidecar.field("tcp"));
            pb.environment().put("FERRY_SIDECAR_TOKEN", TOKEN);
            pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
            Process python = pb.start();
            String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(python.waitFor(120, TimeUnit.SECONDS)).isTrue();
            System.out.println(output);
            assertThat(python.exitValue()).as(output).isZero();
            assertThat(output).contains("OK").doesNotContain("skipped");
        } finally {
            sidecar.stop();
            sidecar.awaitExit();
        }
        assertThat(socket).as("socket removed by the clean shutdown on SIGTERM").doesNotExist();
    }

    private static String python3Version() {
        try {
            Process p = new ProcessBuilder("python3", "--version").redirectErrorStream(true).start();
            String v = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 ? v : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
