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
        java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        java.io.PrintStream stdout = System.out;
        int code;
        try {
            System.setOut(new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8));
            code = FerryCommand.commandLine().execute("cluster", "--model", "tiny", "--requests", "60",
                    "--gpu-capacity", "4MiB", "--out", dir.toString(), "--no-progress");
        } finally {
            System.setOut(stdout);
        }
        String report = printed.toString(java.nio.charset.StandardCharsets.UTF_8);
        System.out.print(report);
        assertThat(code).isEqualTo(ExitCodes.OK);
        // The master knows the blocks each engine's GPU tier holds: prefill's and decode's, two engines.
        assertThat(report).containsPattern("GPU copies +[1-9][0-9]* in [^,]+, [1-9][0-9]* in ")
                .contains("GPU tier copies in TTFT: landing + copy down");
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
        // The tiers' own copies are measured and counted in TTFT: landing with the copy down, and promotion.
        JsonNode copies = tiers.get("copies");
        assertThat(copies.get("landUsPerBlock").asDouble()).isPositive();
        assertThat(copies.get("promoteUsPerBlock").asDouble()).isPositive();
        assertThat(copies.get("landMs").asDouble()).isPositive();
        assertThat(copies.get("promoteMs").asDouble()).isPositive();
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
