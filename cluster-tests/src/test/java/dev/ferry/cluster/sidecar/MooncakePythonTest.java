package dev.ferry.cluster.sidecar;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.cluster.ChildProcess;
import dev.ferry.cluster.LocalCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python package's Mooncake Store API suites (clients/python/test_mooncake.py, and
 * test_mooncake_api.py: the documented semantics method by method; test_mooncake_conformance.py:
 * what Mooncake's own store tests check; test_mooncake_tensors.py: both stored tensor layouts and
 * get_tensor_dim_selection_into; test_copy_paths.py: the
 * copy paths of registered memory) against a real master started with {@code ferry master};
 * the suite starts its own sidecars through a
 * Ferry distribution laid out as {@code ./ferry dist} lays it out ({@code bin/ferry}), here
 * running this build's classes. Skipped, saying why, only when python3 is not installed.
 */
class MooncakePythonTest {
    @Test
    void mooncakeStoreSuitePassesAgainstARealMaster(@TempDir Path dir) throws Exception {
        assumeTrue(PythonSuite.python3Works(), "python3 is not installed (.ci/run installs it): Python package not tested");
        Path home = distribution(dir.resolve("ferry-home"));
        ChildProcess master = ChildProcess.start("master", List.of(), "dev.ferry.cluster.cli.FerryCommand",
                List.of("master", "--port", "0"), dir.resolve("master.log"));
        try {
            Map<String, String> env = Map.of("FERRY_HOME", home.toString(), "FERRY_MASTER",
                    "127.0.0.1:" + master.field("port"), "JAVA_HOME", System.getProperty("java.home"));
            PythonSuite.passes("test_mooncake", env, 300);
            PythonSuite.passes("test_mooncake_api", env, 300);
            PythonSuite.passes("test_mooncake_conformance", env, 300);
            PythonSuite.passes("test_mooncake_tensors", env, 300);
        } finally {
            master.stop();
            master.awaitExit();
        }
    }

    @Test
    void copyPathsSuitePassesAgainstARealMaster(@TempDir Path dir) throws Exception {
        assumeTrue(PythonSuite.python3Works(), "python3 is not installed (.ci/run installs it): Python package not tested");
        Path home = distribution(dir.resolve("ferry-home"));
        ChildProcess master = ChildProcess.start("master", List.of(), "dev.ferry.cluster.cli.FerryCommand",
                List.of("master", "--port", "0"), dir.resolve("master.log"));
        try {
            PythonSuite.passes("test_copy_paths", Map.of("FERRY_HOME", home.toString(),
                    "FERRY_MASTER", "127.0.0.1:" + master.field("port"), "JAVA_HOME", System.getProperty("java.home")),
                    300);
        } finally {
            master.stop();
            master.awaitExit();
        }
    }

    /** A distribution whose bin/ferry runs this build's classes (what ./ferry dist packs into lib/). */
    static Path distribution(Path home) throws IOException {
        Path bin = Files.createDirectories(home.resolve("bin"));
        StringBuilder script = new StringBuilder("#!/usr/bin/env bash\nexec '")
                .append(Path.of(System.getProperty("java.home"), "bin", "java")).append("'");
        for (String flag : LocalCluster.childJvmFlags()) {
            script.append(" '").append(flag).append("'");
        }
        script.append(" -cp '").append(System.getProperty("java.class.path"))
                .append("' dev.ferry.cluster.cli.FerryCommand \"$@\"\n");
        Path launcher = bin.resolve("ferry");
        Files.writeString(launcher, script);
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        return home;
    }
}
