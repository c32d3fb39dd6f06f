package dev.ferry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PairedRunsTest {
    @TempDir
    Path dir;

    @Test
    void alternatesTheSidesAndReportsEveryRoundsRatio() throws Exception {
        System.setProperty("jmh.ignoreLock", "true"); // measures nothing: need not wait for other JMH runs here
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Path json = dir.resolve("pairs.json");
        int exit = PairedRuns.commandLine(new PrintStream(printed, true, StandardCharsets.UTF_8)).execute(
                "--pair", "shm", "--sizes", "64KiB", "--rounds", "3", "--warmup", "0", "--iterations", "1",
                "--time", "100ms", "--forks", "0", "--json", json.toString());

        assertThat(exit).isZero();
        String text = printed.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("shm 64KiB round 1/3", "shm 64KiB round 3/3", "rounds at or above target");
        JsonNode sizes = new ObjectMapper().readTree(json.toFile());
        assertThat(sizes).hasSize(1);
        JsonNode result = sizes.get(0);
        assertThat(result.get("sizeBytes").asLong()).isEqualTo(65536);
        assertThat(result.get("target").asDouble()).isEqualTo(0.8);
        JsonNode rounds = result.get("rounds");
        assertThat(rounds).hasSize(3);
        // ABBA: the engine runs first in rounds 1 and 3, second in round 2.
        assertThat(List.of(rounds.get(0).get("engineFirst").asBoolean(), rounds.get(1).get("engineFirst").asBoolean(),
                rounds.get(2).get("engineFirst").asBoolean())).containsExactly(true, false, true);
        for (JsonNode round : rounds) {
            assertThat(round.get("engineGbps").asDouble()).isPositive();
            assertThat(round.get("baselineGbps").asDouble()).isPositive();
        }
        double[] ratios = new double[3];
        for (int i = 0; i < 3; i++) {
            ratios[i] = rounds.get(i).get("engineGbps").asDouble() / rounds.get(i).get("baselineGbps").asDouble();
        }
        Arrays.sort(ratios);
        assertThat(result.get("medianRatio").asDouble()).isCloseTo(ratios[1], Offset.offset(1e-9));
        assertThat(result.get("minRatio").asDouble()).isCloseTo(ratios[0], Offset.offset(1e-9));
        assertThat(result.get("maxRatio").asDouble()).isCloseTo(ratios[2], Offset.offset(1e-9));
    }

    @Test
    void anUnknownPairIsRefusedInOneLineNamingThePairs() {
        StringWriter err = new StringWriter();
        CommandLine cli = PairedRuns.commandLine(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        cli.setErr(new PrintWriter(err));

        int exit = cli.execute("--pair", "rdma", "--forks", "0");

        assertThat(exit).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("ferry jmh-pairs: no benchmark pair 'rdma'; pairs: tcp, tcp-crc, tcp-read, tcp-read-crc, tcp-crc-cost, tcp-tls-cost, aeron-udp, aeron-udp-crc, aeron-udp-crc-cost, aeron-ipc, shm"
                + System.lineSeparator());
    }

    @Test
    void theHelpNamesEveryPair() {
        StringWriter help = new StringWriter();
        CommandLine cli = PairedRuns.commandLine(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        cli.setOut(new PrintWriter(help));

        assertThat(cli.execute("--help")).isEqualTo(0);

        assertThat(help.toString().replaceAll("\\s+", " ")).contains("The pair: " + String.join(", ", BaselinePair.names()) + ".");
    }

    @Test
    void aSizeThatIsNoSizeIsRefused() {
        StringWriter err = new StringWriter();
        CommandLine cli = PairedRuns.commandLine(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        cli.setErr(new PrintWriter(err));

        assertThat(cli.execute("--pair", "tcp", "--sizes", "lots", "--forks", "0")).isEqualTo(1);
        assertThat(err.toString()).contains("expected a size such as 65536, 64KiB or 4MiB, got 'lots'");
    }

    @Test
    void theMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        var result = PairedRuns.SizeResult.of(BaselinePair.TCP, 1 << 20, List.of(
                new PairedRuns.Round(1.0, 2.0, true), new PairedRuns.Round(3.0, 2.0, false),
                new PairedRuns.Round(1.8, 2.0, true), new PairedRuns.Round(1.0, 1.0, false)));
        assertThat(result.medianRatio()).isCloseTo((0.9 + 1.0) / 2, Offset.offset(1e-12));
        assertThat(result.minRatio()).isEqualTo(0.5);
        assertThat(result.maxRatio()).isEqualTo(1.5);
    }
}
