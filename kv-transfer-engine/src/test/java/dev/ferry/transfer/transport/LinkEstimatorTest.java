package dev.ferry.transfer.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The estimator fed completions at times of a fake clock (plain nanosecond values, no sleeping). */
class LinkEstimatorTest {
    private static final int MIB = 1 << 20;

    @Test
    void answersReadInOneBatchDoNotInflateTheBandwidth() {
        LinkEstimator e = new LinkEstimator();
        // 100 slices of 1 MiB sent at once on a link that delivers 2 MiB per 20 ms (0.105 bytes/ns),
        // whose answers are read in pairs: 20 ms apart, then 5 us apart.
        long now = 0;
        for (int i = 0; i < 100; i++) {
            now += i % 2 == 0 ? 20_000_000 : 5_000;
            e.onCompleted(MIB, 0, now);
        }
        double truePace = 2.0 * MIB / 20_005_000;
        assertThat(e.bytesPerNano()).isCloseTo(truePace, within(truePace * 0.25));
    }

    @Test
    void smallSlicesOneAtATimeMeasureTheRoundTripAndQueuedOnesTheRate() {
        LinkEstimator e = new LinkEstimator();
        long now = 0;
        // A busy link: 1 MiB slices queued behind each other, one completion per 1 ms (1.05 bytes/ns).
        for (int i = 0; i < 50; i++) {
            now += 1_000_000;
            e.onCompleted(MIB, 0, now);
        }
        assertThat(e.bytesPerNano()).isCloseTo(MIB / 1e6, within(0.01));
        // Then 4 KiB slices one at a time, each answered 300 us after it left (a 300 us round trip).
        for (int i = 0; i < 50; i++) {
            now += 1_000_000;
            e.onCompleted(4096, now, now + 300_000);
            now += 300_000;
        }
        double transmit = 4096 / (MIB / 1e6);
        assertThat(e.latencyNanos()).isCloseTo(300_000 - transmit, within(5_000.0));
        assertThat(e.bytesPerNano()).as("the round trips leave the rate alone").isCloseTo(MIB / 1e6, within(0.01));
        // A 4 KiB slice on the idle link is predicted to take its round trip; a 1 MiB one, latency plus 1 ms.
        assertThat(e.predictFinishNanos(0, 4096, 1)).isCloseTo(300_000, within(5_000.0));
        assertThat(e.predictFinishNanos(0, MIB, 1)).isCloseTo(300_000 - transmit + 1_000_000, within(20_000.0));
    }

    @Test
    void anUnmeasuredLinkIsPredictedFromThePriorWithNoLatency() {
        LinkEstimator e = new LinkEstimator();
        assertThat(e.bytesPerNano()).isNaN();
        assertThat(e.latencyNanos()).isNaN();
        assertThat(e.predictFinishNanos(MIB, MIB, 2.0)).isEqualTo(MIB);
    }
}
