package dev.ferry.cluster.netns;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.cluster.cli.ExitCodes;
import dev.ferry.cluster.cli.FerryCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Link faults under the main job: {@code ferry cluster --netns --links-per-host 2
 * --flap-every ...} replays a trace while store-1's second link goes down and up again; no
 * request fails, no block fails verification, the cuts are counted and reported, and both of
 * store-1's links carried bytes.
 */
class ClusterLinkFlapsTest {
    @BeforeAll
    static void needsRoot() {
        var reason = NetnsHosts.unavailableReason();
        Assumptions.assumeTrue(reason.isEmpty(), () -> "no network namespaces here: " + reason.orElse(""));
    }

    @Test
    void aReplayWithALinkFlappingUnderItLosesNoRequestAndReportsEachFlap(@TempDir Path dir) throws Exception {
        StringWriter err = new StringWriter();
        CommandLine cli = FerryCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        int code;
        System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
        try {
            code = cli.execute("cluster", "--netns", "--links-per-host", "2", "--links", "1", "--flap-every", "2s",
                    "--flap-down", "1s", "--requests", "60", "--concurrency", "4", "--capacity-blocks", "400",
                    "--no-progress", "--insecure-no-tls", "--out", dir.toString());
        } finally {
            System.setOut(stdout);
        }
        String out = console.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertThat(code).as(err + out).isEqualTo(ExitCodes.OK);
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        assertThat(summary.get("failed").asLong()).isZero();
        assertThat(summary.get("verifyFailures").asLong()).isZero();
        JsonNode flaps = summary.get("linkFlaps");
        assertThat(flaps.get("flaps").asInt()).as("cuts made during the replay").isPositive();
        assertThat(flaps.get("perFlap")).hasSize(flaps.get("flaps").asInt());
        assertThat(flaps.get("detected").asInt()).as("cuts that caught slices in flight, detected and healed")
                .isPositive();
        assertThat(out).contains("link flaps").contains(flaps.get("flaps").asInt() + " flaps of store-1 eth1");
        String cut = flaps.get("device").asText().replaceAll(".*\\((.*)\\)", "$1"); // store-1 eth1's address
        String octet = cut.substring(cut.lastIndexOf('.')); // store-1's on every subnet
        String port = portOf(summary, cut);
        long viaCut = 0;
        long viaOther = 0;
        long failedOnCut = 0;
        for (JsonNode link : summary.get("links")) {
            String[] parts = link.get("link").asText().split("[:#]"); // tcp, host, port, index
            if (parts.length == 4 && parts[2].equals(port) && parts[1].endsWith(octet)) {
                if (parts[1].equals(cut)) {
                    viaCut += link.get("bytes").asLong();
                    failedOnCut += link.get("failures").asLong();
                } else {
                    viaOther += link.get("bytes").asLong();
                }
            }
        }
        assertThat(viaCut).as("bytes over store-1's flapping link").isPositive();
        assertThat(failedOnCut).as("slices failed on the flapping link (and resent)").isPositive();
        assertThat(viaOther).as("bytes over store-1's other link").isPositive();
    }

    /** The port of store-1's engine, from the name of a link to {@code address}. */
    private static String portOf(JsonNode summary, String address) {
        for (JsonNode link : summary.get("links")) {
            String name = link.get("link").asText();
            if (name.contains(":" + address + ":")) {
                return name.substring(name.lastIndexOf(':') + 1, name.indexOf('#'));
            }
        }
        throw new AssertionError("no link to " + address);
    }
}
