package dev.ferry.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ferry sidecar}: bad settings, on the command line or in the config file, are one clear line. */
class SidecarCommandTest {
    private final StringWriter err = new StringWriter();

    private int ferry(String... args) {
        CommandLine cli = FerryCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void unknownConfigSettingIsNamed(@TempDir Path dir) throws IOException {
        Path config = dir.resolve("sidecar.properties");
        Files.writeString(config, "capacity=64MiB\ncapacty=1GiB\n");
        assertThat(ferry("sidecar", "--config", config.toString(), "--socket", dir.resolve("s.sock").toString()))
                .isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("unknown setting 'capacty'");
    }

    @Test
    void configValuesAreCheckedLikeFlags(@TempDir Path dir) throws IOException {
        Path config = dir.resolve("sidecar.properties");
        Files.writeString(config, "max-in-flight=many\n");
        assertThat(ferry("sidecar", "--config", config.toString())).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("setting 'max-in-flight' expects a number, got 'many'");
    }

    @Test
    void configSizesAreReadLikeFlags(@TempDir Path dir) throws IOException {
        Path config = dir.resolve("sidecar.properties");
        Files.writeString(config, "capacity=lots\n");
        assertThat(ferry("sidecar", "--config", config.toString(), "--socket", dir.resolve("s.sock").toString()))
                .isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("setting 'capacity': expected a size such as 65536, 64KiB or 4MiB, "
                + "got 'lots'");
    }

    @Test
    void tcpOnANonLoopbackAddressNeedsTls(@TempDir Path dir) {
        assertThat(ferry("sidecar", "--socket", dir.resolve("s.sock").toString(), "--tcp", "0.0.0.0:0",
                "--token", "")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("beyond loopback").contains("--tls-dir");
    }

    @Test
    void socketInAMissingDirectoryIsNamed() {
        assertThat(ferry("sidecar", "--socket", "/nonexistent/dir/s.sock")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("/nonexistent/dir/s.sock must be in an existing directory");
    }
}
