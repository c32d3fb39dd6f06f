package dev.ferry.cluster.sidecar;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.cluster.ChildProcess;
import dev.ferry.store.coord.LocalEtcd;
import dev.ferry.store.server.MasterMain;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python package against masters elected in etcd (clients/python/test_mooncake_etcd.py):
 * a real etcd (Debian's {@code etcd-server}, which .ci/run installs) and two
 * {@code ferry master --etcd} processes; the sidecars that {@code setup()} starts find the
 * leader from {@code etcd://} addresses in Ferry's and in Mooncake's form.
 */
class MooncakeEtcdPythonTest {
    private static final String CLUSTER = "py-etcd";

    @Test
    void setupFindsTheLeaderFromAnEtcdAddressInBothForms(@TempDir Path dir) throws Exception {
        assumeTrue(PythonSuite.python3Works(), "python3 is not installed (.ci/run installs it): Python package not tested");
        Path home = MooncakePythonTest.distribution(dir.resolve("ferry-home"));
        try (LocalEtcd etcd = LocalEtcd.start(dir)) {
            List<ChildProcess> masters = new ArrayList<>();
            try {
                for (int i = 1; i <= 2; i++) {
                    masters.add(ChildProcess.start("master-" + i, List.of(), MasterMain.class.getName(),
                            List.of("--port", "0", "--etcd", etcd.address(), "--cluster-id", CLUSTER, "--lease-ttl", "2s"),
                            dir.resolve("master-" + i + ".log")));
                }
                masters.forEach(ChildProcess::awaitReady);
                PythonSuite.passes("test_mooncake_etcd", Map.of("FERRY_HOME", home.toString(), "FERRY_ETCD",
                        etcd.address(), "FERRY_CLUSTER", CLUSTER, "JAVA_HOME", System.getProperty("java.home")), 300);
            } finally {
                for (ChildProcess m : masters) {
                    m.stop();
                }
                for (ChildProcess m : masters) {
                    m.awaitExit();
                }
            }
        }
    }
}
