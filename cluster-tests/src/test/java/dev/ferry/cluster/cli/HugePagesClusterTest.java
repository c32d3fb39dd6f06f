package dev.ferry.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ferry cluster --huge-pages} and {@code --slab-dir}: the main job with its store nodes'
 * slabs on a tmpfs of 2 MiB pages that the run mounts and unmounts, and the report saying
 * what each slab got.
 */
class HugePagesClusterTest {
    private final StringWriter err = new StringWriter();

    private int ferry(String... args) {
        CommandLine cli = FerryCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void refusesHugePagesWithASlabDirAndASlabDirThatIsNoDirectory(@TempDir Path dir) {
        assertThat(ferry("cluster", "--huge-pages", "--slab-dir", dir.toString(), "--no-progress"))
                .isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--huge-pages mounts a tmpfs of its own");
        assertThat(ferry("cluster", "--slab-dir", dir.resolve("none").toString(), "--no-progress"))
                .isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("is not a directory");
    }

    @Test
    void theMainJobRunsOnHugePagesAndUnmountsThemAfter(@TempDir Path dir) throws IOException {
        assumeTrue("root".equals(System.getProperty("user.name")), "--huge-pages mounts a tmpfs: needs root");
        Path out = dir.resolve("out");
        int code = ferry("cluster", "--model", "tiny", "--requests", "20", "--capacity-blocks", "200", "--transport",
                "shm", "--huge-pages", "--out", out.toString(), "--no-progress");
        assumeTrue(code != ExitCodes.BAD_INPUT || !err.toString().contains("cannot mount"),
                "no tmpfs mount here: " + err);
        assertThat(code).as(err.toString()).isEqualTo(ExitCodes.OK);
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertThat(summary.get("slabs")).hasSize(2);
        for (JsonNode slab : summary.get("slabs")) {
            assertThat(slab.get("pageSize").asText()).as(slab.toString()).isEqualTo("2MiB");
            Path mount = Path.of(slab.get("file").asText()).getParent();
            assertThat(mount).as("unmounted and removed").doesNotExist();
            assertThat(Files.readAllLines(Path.of("/proc/mounts"))).noneMatch(l -> l.contains(" " + mount + " "));
        }
        assertThat(summary.get("writeGBps").asDouble()).isPositive();
        assertThat(summary.get("readGBps").asDouble()).isPositive();
        assertThat(summary.get("bytesByTransport").get("shm").asLong()).isPositive();
    }
}
