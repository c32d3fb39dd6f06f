package dev.ferry.cluster.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.cluster.ChildProcess;
import dev.ferry.transfer.tls.ClusterCa;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python client's own unittest suite (clients/python) against a real sidecar started
 * with {@code ferry sidecar} in a child JVM, on its Unix socket and on loopback TCP with a
 * token and mutual TLS (certificates of a CA made by {@link ClusterCa}, the client's given as
 * {@code $FERRY_TLS_DIR}); then it is stopped (stdin closed and SIGTERM)
 * and must have removed its socket. Skipped, saying why, only when python3 is not installed.
 */
class PythonClientTest {
    private static final String TOKEN = "py-test-token";

    @Test
    void pythonClientSuitePassesAgainstARealSidecar(@TempDir Path dir) throws Exception {
        assumeTrue(PythonSuite.python3Works(), "python3 is not installed (.ci/run installs it): Python client not tested");
        Path socket = dir.resolve("sidecar.sock");
        ClusterCa ca = ClusterCa.create("py-test-ca");
        Path sidecarTls = ca.issue(dir.resolve("tls/sidecar"), "sidecar", List.of());
        Path clientTls = ca.issue(dir.resolve("tls/client"), "client", List.of());
        ChildProcess sidecar = ChildProcess.start("sidecar", List.of(), "dev.ferry.cluster.cli.FerryCommand",
                List.of("sidecar", "--socket", socket.toString(), "--capacity", "64MiB", "--node-id",
                        "py-" + ProcessHandle.current().pid(), "--tcp", "127.0.0.1:0", "--token", TOKEN,
                        "--tls-dir", sidecarTls.toString(),
                        "--frame-timeout-ms", "1000", "--exit-on-stdin-close"), dir.resolve("sidecar.log"));
        try {
            assertThat(sidecar.field("socket")).isEqualTo(socket.toString());
            PythonSuite.passes("test_ferry_client", Map.of("FERRY_SIDECAR_SOCKET", socket.toString(),
                    "FERRY_SIDECAR_TCP", "127.0.0.1:" + sidecar.field("tcp"), "FERRY_SIDECAR_TOKEN", TOKEN,
                    "FERRY_TLS_DIR", clientTls.toString()), 120);
        } finally {
            sidecar.stop();
            sidecar.awaitExit();
        }
        assertThat(socket).as("socket removed by the clean shutdown on SIGTERM").doesNotExist();
    }
}
