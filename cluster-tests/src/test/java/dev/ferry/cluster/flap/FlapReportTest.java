package dev.ferry.cluster.flap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FlapReportTest {
    private static final long MS = 1_000_000;

    /**
     * Samples every 10 ms: bytes move until the cut at 100 ms, the cut link's failure shows at
     * 620 ms, bytes move again from 650 ms.
     */
    @Test
    void detectionIsCutToFirstFailureAndTheStallRunsFromThereToTheNextBytes() {
        int n = 200;
        long[] t = new long[n];
        long[] bytes = new long[n];
        long[] failures = new long[n];
        long[] watched = new long[n];
        long b = 0;
        for (int i = 0; i < n; i++) {
            t[i] = i * 10 * MS;
            if (i * 10 < 100 || i * 10 >= 650) {
                b += 1000;
            }
            bytes[i] = b;
            failures[i] = i * 10 >= 620 ? 1 : 0;
        }
        var samples = new TrafficSampler.Samples(t, bytes, failures, watched);
        var quiet = new TrafficSampler.Samples(t, new long[n], new long[n], new long[n]);
        FlapReport report = FlapReport.of("store-1 eth1 (10.0.0.2)", 1500, 1000, 500,
                List.of(new LinkFlapper.Cut(100 * MS, 1100 * MS)), Map.of("prefill", samples, "decode", quiet));
        FlapReport.Flap flap = report.flaps().getFirst();
        assertThat(flap.detectionMillis()).isCloseTo(520, within(0.01));
        assertThat(flap.detectedBy()).isEqualTo("prefill");
        assertThat(flap.stallAfterDetectionMillis()).isCloseTo(30, within(0.01));
        assertThat(report.format().getLast()).contains("1 flaps of store-1 eth1 (10.0.0.2)", "1 detected",
                "detection median 520 ms", "stall after detection median 30.0 ms");
        assertThat(report.toJson()).containsEntry("detected", 1);
    }

    @Test
    void aCutThatCaughtNoSliceIsReportedUndetected() {
        long[] t = {0, 10 * MS, 20 * MS, 30 * MS};
        var samples = new TrafficSampler.Samples(t, new long[] {0, 1, 2, 3}, new long[4], new long[4]);
        FlapReport report = FlapReport.of("l", 30, 10, 500, List.of(new LinkFlapper.Cut(5 * MS, 15 * MS)),
                Map.of("decode", samples));
        assertThat(report.flaps().getFirst().detectionMillis()).isEqualTo(-1);
        assertThat(report.detected()).isEmpty();
        assertThat(report.format().getFirst()).contains("no slice caught");
    }
}
