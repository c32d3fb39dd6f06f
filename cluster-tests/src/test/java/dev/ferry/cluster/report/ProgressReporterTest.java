package dev.ferry.cluster.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressReporterTest {
    @Test
    void drawsTheTaskCountHitsAndFailures() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
             ProgressReporter progress = new ProgressReporter("replay", 4, out, false)) {
            progress.step(false, 10, 5);
            progress.step(true, 10, 0);
            progress.step(SyntheticResults.of(1).get(0));
            progress.step(false);
        }
        String drawn = bytes.toString(StandardCharsets.UTF_8);
        String last = drawn.substring(drawn.lastIndexOf('\r') + 1);
        assertThat(last).contains("replay").contains("4/4").contains("hits 16.7%, 1 failed");
    }

    @Test
    void worksWithoutAConsoleOrATotal() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
             ProgressReporter progress = new ProgressReporter("replay", 0, out, false)) {
            progress.step(false);
        }
        assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("replay");
    }
}
