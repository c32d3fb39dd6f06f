package dev.ferry.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ferry cluster --gpu-capacity}: prefill and decode each with a GPU tier (host memory
 * standing in on a machine without CUDA), the report's figures per tier.
 */
class GpuTierClusterTest {
    @Test
    void decodeServesCachedPrefixesFromItsGpuTierWithEveryByteVerified(@TempDir Path dir) throws IOException {
        int code = FerryCommand.commandLine().execute("cluster", "--model", "tiny", "--requests", "60",
                "--gpu-capacity", "4MiB", "--out", dir.toString(), "--no-progress");
        assertThat(code).isEqualTo(ExitCodes.OK);
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        assertThat(summary.get("failed").asInt()).isZero();
        assertThat(summary.get("verifyFailures").asLong()).isZero();
        JsonNode tiers = summary.get("tiers");
        long gpu = tiers.get("gpu").get("blocksRead").asLong();
        long dram = tiers.get("dram").get("blocksRead").asLong();
        assertThat(gpu).isPositive();
        assertThat(dram).isPositive(); // the new blocks of every request come from DRAM
        assertThat(gpu + dram + tiers.get("ssd").get("blocksRead").asLong())
                .isEqualTo(summary.get("blocksRead").asLong());
        // A GPU hit moves nothing over the transfer engine: decode read fewer bytes than its blocks hold.
        assertThat(summary.get("bytesRead").asLong()).isEqualTo(dram * 256 * 1024);
    }

    @Test
    void aGpuTierBehindASidecarOrOfAnUnknownSizeIsRefusedBeforeAnythingStarts() {
        StringWriter err = new StringWriter();
        CommandLine cli = FerryCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        assertThat(cli.execute("cluster", "--sidecar", "--gpu-capacity", "4MiB", "--no-progress"))
                .isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("not with sidecars");
        assertThat(cli.execute("cluster", "--gpu-capacity", "lots", "--no-progress")).isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("Invalid value for option '--gpu-capacity'");
    }
}
