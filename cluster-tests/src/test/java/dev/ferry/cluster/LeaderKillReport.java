package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.cluster.cli.ExitCodes;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a {@code ferry cluster --masters N} run must report after its leading master was
 * killed with SIGKILL mid-replay: at most the requests in flight at the kill failed (two,
 * with concurrency 2), the exit code follows them, no block failed verification, and the
 * report names the killed master and the standby that took over.
 */
public final class LeaderKillReport {
    private LeaderKillReport() {
    }

    /**
     * @param exitValue the finished ferry process's exit code
     * @param lines     its console output
     * @param requests  requests the replay ran
     * @param leader    the master process that was killed
     */
    public static void assertSurvived(int exitValue, List<String> lines, int requests, ProcessHandle leader) {
        String output = String.join("\n", lines);
        Matcher failed = Pattern.compile("requests +" + requests + " \\((\\d+) failed\\)").matcher(output);
        assertThat(failed.find()).as(output).isTrue();
        int failures = Integer.parseInt(failed.group(1));
        assertThat(failures).as(output).isLessThanOrEqualTo(2);
        assertThat(exitValue).as(output).isEqualTo(failures == 0 ? ExitCodes.OK : ExitCodes.REQUESTS_FAILED);
        assertThat(output).contains("verify failures    0");
        assertThat(lines).as(output).anyMatch(l -> l.contains("masters lost") && l.contains("(pid " + leader.pid())
                && l.contains("killed by SIGKILL") && l.contains("a standby took over"));
    }
}
