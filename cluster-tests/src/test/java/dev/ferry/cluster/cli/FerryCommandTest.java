package dev.ferry.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.cli.NodeCommandLine;
import dev.ferry.store.server.MasterMain;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The {@code ferry} command: exit codes and one clear line for each kind of bad input. */
class FerryCommandTest {
    private final StringWriter err = new StringWriter();

    private int ferry(String... args) {
        CommandLine cli = FerryCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void benchCopyCrcPrintsOneFigureLinePerSizeAndRefusesBadSizes() {
        StringWriter out = new StringWriter();
        CommandLine cli = FerryCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        assertThat(cli.execute("bench", "copy-crc", "--sizes", "4KiB,64KiB", "--batch", "2", "--iterations", "2"))
                .isZero();
        List<String> lines = out.toString().lines().toList();
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).matches("copy-crc size=4096 bytes=8192 region=8192 copy_gbps=[0-9.]+ "
                + "crc32c_gbps=[0-9.]+ copy_crc32c_gbps=[0-9.]+");
        assertThat(lines.get(1)).startsWith("copy-crc size=65536 bytes=131072 region=131072 ");
        assertThat(lines.get(2)).startsWith("copy-crc done check=");
        assertThat(ferry("bench", "copy-crc", "--sizes", "64KiB", "--iterations", "0")).isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("iterations at least 1");
        assertThat(ferry("bench", "copy-crc", "--sizes", "64KiB", "--region", "lots")).isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("--region");
    }

    /** A region makes the operations take its windows in turn: whole windows, the region rounded down to them. */
    @Test
    void benchCopyCrcTakesTheWindowsOfARegionInTurn() {
        StringWriter out = new StringWriter();
        CommandLine cli = FerryCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        assertThat(cli.execute("bench", "copy-crc", "--sizes", "64KiB,1MiB", "--batch", "2", "--iterations", "5",
                "--region", "3MiB")).isZero();
        List<String> lines = out.toString().lines().toList();
        assertThat(lines.get(0)).startsWith("copy-crc size=65536 bytes=131072 region=3145728 ");
        assertThat(lines.get(1)).startsWith("copy-crc size=1048576 bytes=2097152 region=2097152 ");
    }

    @Test
    void unknownModelProfile() {
        assertThat(ferry("cluster", "--model", "gpt-9", "--no-progress")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("unknown model profile 'gpt-9'; known: llama-3.1-8b, qwen2.5-7b");
    }

    @Test
    void linkFlapsNeedASecondLinkPerHostAndADurationThatFits() {
        assertThat(ferry("cluster", "--flap-every", "3s", "--no-progress")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--flap-every cuts one of two TCP links");
        assertThat(ferry("cluster", "--links-per-host", "2", "--no-progress")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("above 1 with --netns only");
        assertThat(ferry("cluster", "--netns", "--links-per-host", "2", "--flap-every", "soon", "--no-progress"))
                .isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--flap-every takes a duration such as 3s or 500ms");
        assertThat(ferry("cluster", "--netns", "--links-per-host", "2", "--flap-every", "1s", "--flap-down", "1500ms",
                "--no-progress")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--flap-down (1500 ms) must be shorter than --flap-every (1000 ms)");
    }

    @Test
    void malformedTraceLineIsNamed(@TempDir Path dir) throws IOException {
        Path trace = dir.resolve("bad.jsonl");
        Files.writeString(trace, "{\"timestamp\": 0, \"input_length\": 9, \"output_length\": 1, \"hash_ids\": [1]}\n"
                + "{\"timestamp\": 1, \"input_length\": 9\n");
        assertThat(ferry("cluster", "--trace", trace.toString(), "--no-progress")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains(trace + ":2: not valid JSON").doesNotContain("\tat ");
    }

    @Test
    void capacitySmallerThanOneRequest() {
        assertThat(ferry("cluster", "--capacity-blocks", "3", "--requests", "50", "--no-progress"))
                .isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("capacity of 3 blocks is smaller than request");
    }

    @Test
    void clusterCapacityCountsBlocksAndItsOldNameStillWorksWithOneWarning() {
        assertThat(ferry("cluster", "--capacity", "3", "--requests", "50", "--no-progress"))
                .isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString().lines().filter(l -> l.contains("deprecated")).toList()).containsExactly(
                "ferry cluster: --capacity is deprecated: use --capacity-blocks N (a count of KV blocks; --capacity "
                        + "is a size in bytes in store-node and sidecar)");
        assertThat(err.toString()).contains("capacity of 3 blocks is smaller than request");
    }

    @Test
    void aSizeIsCheckedAlikeInStoreNodeAndSidecar() {
        for (String command : List.of("store-node", "sidecar")) {
            StringWriter sizeErr = new StringWriter();
            CommandLine cli = FerryCommand.commandLine();
            cli.setErr(new PrintWriter(sizeErr, true));
            assertThat(cli.execute(command, "--node-id", "n", "--capacity", "4 GB!")).as(command)
                    .isEqualTo(ExitCodes.USAGE);
            assertThat(sizeErr.toString()).as(command).contains("Invalid value for option '--capacity'")
                    .contains("expected a size such as 65536, 64KiB or 4MiB, got '4 GB!'");
        }
    }

    @Test
    void portInUseIsNamed() throws IOException {
        try (ServerSocket taken = new ServerSocket(0)) {
            PrintStream saved = System.err;
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            try {
                int code = NodeCommandLine.run(new MasterMain(), "--port", Integer.toString(taken.getLocalPort()));
                assertThat(code).isEqualTo(1);
            } finally {
                System.setErr(saved);
            }
            assertThat(captured.toString(StandardCharsets.UTF_8))
                    .contains("cannot listen on 127.0.0.1:" + taken.getLocalPort()).contains("in use");
        }
    }

    @Test
    void clusterOnAPortInUseSaysWhichAndStopsWhatItStarted(@TempDir Path dir) throws IOException {
        try (ServerSocket taken = new ServerSocket(0)) {
            int code = ferry("cluster", "--model", "tiny", "--requests", "5", "--master-port",
                    Integer.toString(taken.getLocalPort()), "--out", dir.toString(), "--no-progress");
            assertThat(code).isEqualTo(ExitCodes.BAD_INPUT);
            assertThat(err.toString()).contains("master exited").contains("cannot listen on 127.0.0.1:"
                    + taken.getLocalPort()).contains("in use");
        }
    }

    @Test
    void generatedTraceRunsEndToEndAndWritesTheReport(@TempDir Path dir) {
        int code = ferry("cluster", "--model", "tiny", "--requests", "40", "--capacity-blocks", "400", "--concurrency", "2",
                "--out", dir.toString(), "--no-progress");
        assertThat(code).as(err.toString()).isEqualTo(ExitCodes.OK);
        assertThat(dir.resolve("requests.arrow")).exists();
        assertThat(dir.resolve("requests.csv")).exists();
        assertThat(dir.resolve("ttft-cdf.png")).exists();
        assertThat(dir.resolve("logs/prefill.log")).exists();
    }

    @Test
    void benchTransferRunsAgainstALocalTargetAndWritesItsResults(@TempDir Path dir) throws IOException {
        assertThat(shortBenchTransfer(dir, "--operation", "read")).as(err.toString()).isEqualTo(ExitCodes.OK);
        assertThat(Files.readString(dir.resolve("transfer.json"))).contains("\"operation\" : \"read\"")
                .contains("\"gbps\"");
        assertThat(dir.resolve("transfer.arrow")).exists();
        assertThat(Files.readAllBytes(dir.resolve("transfer-latency-cdf.png"))).startsWith(0x89, 'P', 'N', 'G');
    }

    @Test
    void benchTransferOverAeronIpcSharesOneMediaDriverWithItsTarget(@TempDir Path dir) throws IOException {
        assertThat(shortBenchTransfer(dir, "--transport", "aeron-ipc")).as(err.toString()).isEqualTo(ExitCodes.OK);
        assertThat(Files.readString(dir.resolve("transfer.json"))).contains("\"transport\" : \"aeron-ipc\"")
                .contains("\"gbps\"");
        assertThat(Files.readString(dir.resolve("target.log"))).contains("aeron-ipc-driver=");
    }

    @Test
    void benchTransferWarmsUpOverLoopbackBeforeItMeasures(@TempDir Path dir) throws IOException {
        java.io.ByteArrayOutputStream console = new java.io.ByteArrayOutputStream();
        java.io.PrintStream stdout = System.out;
        System.setOut(new java.io.PrintStream(console, true, java.nio.charset.StandardCharsets.UTF_8));
        int code;
        try {
            code = shortBenchTransfer(dir, "--warm-up-ms", "300", "--sample-ms", "250");
        } finally {
            System.setOut(stdout);
        }
        assertThat(code).as(err.toString()).isEqualTo(ExitCodes.OK);
        String printed = console.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertThat(printed).containsPattern("warm-up: [1-9]\\d* requests over loopback in \\d+ ms \\((compiled|budget spent)\\)");
        // --sample-ms 250: the one second in quarters (a line each; one fewer when a wake-up comes late).
        assertThat(printed.lines().filter(l -> l.matches("\\s*\\d+\\.\\d\\ds\\s.*"))).as(printed).hasSizeBetween(2, 4);
        assertThat(Files.readString(dir.resolve("transfer.json"))).contains("\"warmUpMillis\" : 300");
        assertThat(ferry("bench", "transfer", "--warm-up-ms", "-1")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--warm-up-ms at least 0");
        assertThat(ferry("bench", "transfer", "--sample-ms", "0")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--sample-ms must be at least 1");
    }

    /**
     * A one-second {@code ferry bench transfer} of small batches against a local 16 MiB target
     * (without a warm-up unless {@code more} asks for one).
     */
    private int shortBenchTransfer(Path dir, String... more) {
        List<String> args = new ArrayList<>(List.of("bench", "transfer", "--duration", "1", "--block-size", "256KiB",
                "--batch-size", "4", "--threads", "1", "--segment-bytes", "16MiB", "--out", dir.toString()));
        if (!List.of(more).contains("--warm-up-ms")) {
            args.addAll(List.of("--warm-up-ms", "0"));
        }
        args.addAll(List.of(more));
        return ferry(args.toArray(String[]::new));
    }

    @Test
    void benchTransferRefusesBadSettings() {
        assertThat(ferry("bench", "transfer", "--operation", "copy")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--operation must be read or write, not 'copy'");
        assertThat(ferry("bench", "transfer", "--block-size", "lots")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("expected a size such as 65536, 64KiB or 4MiB, got 'lots'");
    }

    @Test
    void benchReplaySweepsPoliciesAndCapacities(@TempDir Path dir) throws IOException {
        int code = ferry("bench", "replay", "--requests", "40", "--capacities", "300,600", "--policies", "lru,s3fifo",
                "--out", dir.toString());
        assertThat(code).as(err.toString()).isEqualTo(ExitCodes.OK);
        String json = Files.readString(dir.resolve("replay.json"));
        assertThat(json).contains("\"policy\" : \"lru\"").contains("\"policy\" : \"s3fifo\"")
                .contains("\"capacityBlocks\" : 600");
        assertThat(dir.resolve("hit-ratio.png")).exists();
        assertThat(ferry("bench", "replay", "--policies", "mru")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("unknown eviction policy 'mru'");
    }

    @Test
    void theClusterRunsOverAeronAndOverSharedMemory(@TempDir Path dir) throws IOException {
        for (String transport : new String[] {"aeron", "shm"}) {
            Path out = dir.resolve(transport);
            int code = ferry("cluster", "--model", "tiny", "--requests", "30", "--capacity-blocks", "400", "--transport",
                    transport, "--out", out.toString(), "--no-progress");
            assertThat(code).as(transport + ": " + err).isEqualTo(ExitCodes.OK);
            assertThat(Files.readString(out.resolve("summary.json"))).contains("\"failed\" : 0")
                    .contains("\"verifyFailures\" : 0");
            assertTheTransportCarriedTheBytes(out.resolve("summary.json"), transport);
            var mappings = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("summary.json")
                    .toFile()).get("mappings");
            // Prefill writes through shared memory and populates its mappings; decode only reads.
            assertThat(mappings.get("prefill").get("bytes").asLong()).as(transport + ": " + mappings)
                    .matches(bytes -> transport.equals("shm") ? bytes > 0 : bytes == 0);
            assertThat(mappings.get("decode").get("bytes").asLong()).as(transport + ": " + mappings).isZero();
        }
    }

    /**
     * The engines of prefill and decode counted at least every byte the requests moved, and the
     * chosen transport (Aeron: over UDP or IPC) carried nearly all of them, not the TCP fallback.
     */
    private static void assertTheTransportCarriedTheBytes(Path summaryJson, String transport) throws IOException {
        var summary = new com.fasterxml.jackson.databind.ObjectMapper().readTree(summaryJson.toFile());
        var byTransport = summary.get("bytesByTransport");
        long total = 0;
        for (String t : List.of("tcp", "aeron", "aeron-ipc", "shm")) {
            total += byTransport.get(t).asLong();
        }
        long chosen = transport.equals("aeron") ? byTransport.get("aeron").asLong()
                + byTransport.get("aeron-ipc").asLong() : byTransport.get(transport).asLong();
        long moved = summary.get("bytesWritten").asLong() + summary.get("bytesRead").asLong();
        assertThat(moved).isPositive();
        assertThat(total).as(transport + ": bytes by transport " + byTransport).isGreaterThanOrEqualTo(moved);
        assertThat((double) chosen / total).as(transport + ": bytes by transport " + byTransport)
                .isGreaterThanOrEqualTo(0.99);
        assertThat(summary.get("links")).as("links").isNotEmpty();
        long perLink = 0;
        for (var link : summary.get("links")) {
            perLink += link.get("bytes").asLong();
        }
        assertThat(perLink).isEqualTo(total);
    }

    @Test
    void benchChartDrawsJmhResults(@TempDir Path dir) throws IOException {
        Path json = dir.resolve("jmh.json");
        Files.writeString(json, """
                [{"benchmark": "dev.ferry.bench.TcpTransferBenchmark.engineWrite", "params": {"chunkBytes": "1048576"},
                  "primaryMetric": {"score": 10.0, "scoreUnit": "ops/s"}},
                 {"benchmark": "dev.ferry.bench.ShmTransferBenchmark.memcpyBaseline", "params": {"requestBytes": "65536"},
                  "primaryMetric": {"score": 1000.0, "scoreUnit": "ops/s"}},
                 {"benchmark": "dev.ferry.bench.AeronTransferBenchmark.engineWrite",
                  "params": {"channel": "ipc", "chunkBytes": "1048576"}, "primaryMetric": {"score": 20.0, "scoreUnit": "ops/s"}}]
                """);
        Path png = dir.resolve("chart.png");
        assertThat(ferry("bench", "chart", "--jmh", json.toString(), "--out", png.toString())).isZero();
        assertThat(Files.readAllBytes(png)).startsWith(0x89, 'P', 'N', 'G');
        var points = dev.ferry.cluster.bench.JmhThroughputChart.read(json);
        assertThat(points).extracting(p -> p.gbps())
                .containsExactly(10.0 * 64 * 1024 * 1024 / 1e9, 1000.0 * 65536 / 1e9, 20.0 * 64 * 1024 * 1024 / 1e9);
        assertThat(points).extracting(p -> p.series()).containsExactly("TcpTransfer.engineWrite",
                "ShmTransfer.memcpyBaseline", "AeronTransfer.engineWrite (channel=ipc)");
    }

    @Test
    void benchFailoverChartsEachLinkThroughAFailure(@TempDir Path dir) throws IOException {
        var unavailable = dev.ferry.cluster.netns.NetnsTestBed.unavailableReason();
        org.junit.jupiter.api.Assumptions.assumeTrue(unavailable.isEmpty(),
                () -> "no network namespaces here: " + unavailable.orElse(""));
        int code = ferry("bench", "failover", "--rates", "400,400", "--bytes", "96MiB", "--cut-link", "1",
                "--cut-after-ms", "300", "--restore-after-ms", "900", "--out", dir.toString());
        assertThat(code).as(err.toString()).isEqualTo(ExitCodes.OK);
        assertThat(Files.readAllBytes(dir.resolve("failover-links.png"))).startsWith(0x89, 'P', 'N', 'G');
        assertThat(dir.resolve("failover.arrow")).exists();
        assertThat(ferry("bench", "failover", "--rates", "400", "--cut-link", "3")).isEqualTo(ExitCodes.BAD_INPUT);
        assertThat(err.toString()).contains("--cut-link must name one of the 1 links");
    }

    @Test
    void benchTakeoverKillsTheLeaderAndTheNextCommitsWithNoBlockLost(@TempDir Path dir) throws IOException {
        int code = ferry("bench", "takeover", "--masters", "2", "--runs", "2", "--lease-ttl", "1s", "--blocks", "8",
                "--out", dir.toString());
        assertThat(code).as(err.toString()).isEqualTo(ExitCodes.OK);
        List<String> rows = Files.readAllLines(dir.resolve("takeover.csv"));
        assertThat(rows).hasSize(3).first().isEqualTo("run,epoch,blocks_before,takeover_ms,lost_blocks");
        long previousEpoch = 0;
        for (String row : rows.subList(1, rows.size())) {
            String[] f = row.split(",");
            assertThat(Long.parseLong(f[1])).as("epoch rises: %s", row).isGreaterThan(previousEpoch);
            previousEpoch = Long.parseLong(f[1]);
            assertThat(Long.parseLong(f[3])).as("takeover ms: %s", row).isPositive();
            assertThat(f[4]).as("lost blocks: %s", row).isEqualTo("0");
        }
        assertThat(ferry("bench", "takeover", "--masters", "1")).isEqualTo(ExitCodes.BAD_INPUT);
    }

    @Test
    void traceCommandWritesAReadableTrace(@TempDir Path dir) {
        Path out = dir.resolve("t.jsonl");
        assertThat(ferry("trace", "--requests", "20", "--out", out.toString())).isZero();
        assertThat(out).exists();
        assertThat(ferry("profiles")).isZero();
    }

    @Test
    void everySubcommandsHelpNamesItselfAndPrintsNoWarning() {
        for (String sub : List.of("store-node", "master", "sidecar", "cluster")) {
            PrintStream saved = System.err;
            ByteArrayOutputStream warnings = new ByteArrayOutputStream();
            StringWriter out = new StringWriter();
            System.setErr(new PrintStream(warnings, true, StandardCharsets.UTF_8));
            try {
                CommandLine cli = FerryCommand.commandLine();
                cli.setOut(new PrintWriter(out, true));
                assertThat(cli.execute(sub, "--help")).isZero();
            } finally {
                System.setErr(saved);
            }
            assertThat(out.toString()).as(sub).startsWith("Usage: ferry " + sub + " ");
            assertThat(warnings.toString(StandardCharsets.UTF_8)).as(sub).doesNotContain("WARN").isEmpty();
        }
        StringWriter out = new StringWriter();
        CommandLine cli = FerryCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.execute("store-node", "--help");
        assertThat(out.toString()).contains("85% full").contains("--lazy-slab").contains("--scrub-rate").doesNotContain("--scrub-bytes-per-second");
    }
}
