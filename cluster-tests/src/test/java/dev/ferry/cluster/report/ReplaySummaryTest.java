package dev.ferry.cluster.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class ReplaySummaryTest {
    @Test
    void summarisesCountsBytesAndRates() {
        List<RequestResult> results = SyntheticResults.of(50); // 5 failed: 9, 19, 29, 39, 49
        ReplaySummary s = ReplaySummary.of(results, 2_000_000_000L);
        assertThat(s.requests()).isEqualTo(50);
        assertThat(s.failed()).isEqualTo(5);
        assertThat(s.blocks()).isEqualTo(500);
        assertThat(s.hitRatio()).isCloseTo(100 / 500.0, within(1e-12)); // hits 0..4, ten times over
        assertThat(s.blocksWritten()).isEqualTo(400);
        assertThat(s.blocksRead()).isEqualTo(450);
        assertThat(s.bytesWritten()).isEqualTo(400 * SyntheticResults.BLOCK_BYTES);
        assertThat(s.bytesRead()).isEqualTo(450 * SyntheticResults.BLOCK_BYTES);
        double moved = 850.0 * SyntheticResults.BLOCK_BYTES;
        assertThat(s.transferGBps()).isCloseTo(moved / (50 * 1_000_000 + 45 * 1_000_000), within(1e-9));
        assertThat(s.wallGBps()).isCloseTo(moved / 2e9, within(1e-9));
        // WRITE: 400 blocks in 50 transfers of 1 ms; READ: 450 blocks in the 45 successful ones of 1 ms.
        assertThat(s.writeGBps()).isCloseTo(400.0 * SyntheticResults.BLOCK_BYTES / 50_000_000, within(1e-9));
        assertThat(s.readGBps()).isCloseTo(450.0 * SyntheticResults.BLOCK_BYTES / 45_000_000, within(1e-9));
        assertThat(s.wallSeconds()).isEqualTo(2.0);
        assertThat(s.verifyFailures()).isZero();
    }

    @Test
    void percentilesComeFromSuccessfulRequestsInMilliseconds() {
        ReplaySummary s = ReplaySummary.of(SyntheticResults.of(50), 1);
        // Successful TTFTs: 1..50 ms but 10, 20, 30, 40, 50; 45 values.
        assertThat(s.ttftP50Ms()).isCloseTo(25, within(0.05));
        assertThat(s.ttftP90Ms()).isCloseTo(45, within(0.05));
        assertThat(s.ttftP99Ms()).isCloseTo(49, within(0.05));
        assertThat(s.tbtP50Ms()).isCloseTo(20, within(0.05));
    }

    @Test
    void emptyReplaysGiveZeros() {
        ReplaySummary s = ReplaySummary.of(List.of(), 0);
        assertThat(s.requests()).isZero();
        assertThat(s.hitRatio()).isZero();
        assertThat(s.ttftP99Ms()).isZero();
        assertThat(s.transferGBps()).isZero();
        assertThat(s.wallGBps()).isZero();
        assertThat(s.writeGBps()).isZero();
        assertThat(s.readGBps()).isZero();
    }

    @Test
    void formatsAFixedWidthTableAfterTheHeader() {
        String table = ReplaySummary.of(SyntheticResults.of(50), 2_000_000_000L)
                .format(List.of("trace   generated (seed 7)", "profile tiny"));
        List<String> lines = table.lines().toList();
        assertThat(lines.get(0)).isEqualTo("trace   generated (seed 7)");
        assertThat(lines.get(1)).isEqualTo("profile tiny");
        assertThat(table).contains("  requests           50 (5 failed)")
                .contains("  prefix hit ratio   0.2000")
                .contains("  TTFT p50/p90/p99   25.0")
                .contains("  WRITE / READ GB/s ")
                .contains("  wall time          2.0 s");
        assertThat(lines.subList(2, lines.size())).allSatisfy(l -> assertThat(l.charAt(21)).isNotEqualTo(' '));
    }
}
