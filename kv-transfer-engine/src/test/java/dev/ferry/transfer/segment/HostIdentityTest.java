package dev.ferry.transfer.segment;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostIdentityTest {
    @Test
    void thePropertyWinsOverTheEnvironmentWhichWinsOverTheBootId(@TempDir Path dir) throws IOException {
        Path bootId = Files.writeString(dir.resolve("boot_id"), "b00t\n");
        assertThat(HostIdentity.resolve("from-property", "from-env", bootId)).isEqualTo("from-property");
        assertThat(HostIdentity.resolve(null, "from-env", bootId)).isEqualTo("from-env");
        assertThat(HostIdentity.resolve(null, null, bootId)).isEqualTo("b00t");
    }

    @Test
    void blankSettingsCountAsUnsetAndAnUnreadableBootIdGivesNoIdentity(@TempDir Path dir) {
        assertThat(HostIdentity.resolve(" ", "", dir.resolve("missing"))).isEmpty();
        assertThat(HostIdentity.resolve("", " host-a ", dir.resolve("missing"))).isEqualTo("host-a");
    }

    @Test
    void thisProcessHasTheBootIdOfItsMachineWhenNothingIsSet() throws IOException {
        Path bootId = Path.of("/proc/sys/kernel/random/boot_id");
        Assumptions.assumeTrue(System.getProperty(HostIdentity.PROPERTY) == null
                && System.getenv(HostIdentity.ENV) == null && Files.isReadable(bootId), "a host identity is set");
        assertThat(HostIdentity.id()).isEqualTo(Files.readString(bootId).trim());
    }
}
