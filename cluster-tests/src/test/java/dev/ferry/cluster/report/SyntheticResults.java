package dev.ferry.cluster.report;

import java.util.ArrayList;
import java.util.List;

/** Made-up request results with known figures, for the report tests. */
final class SyntheticResults {
    static final long BLOCK_BYTES = 256 * 1024;

    private SyntheticResults() {
    }

    /**
     * Request {@code i} arrives at {@code i * 100 ms}, has 10 blocks of which {@code i % 5} hit,
     * and a TTFT of {@code (i + 1) ms}; every 10th request (i = 9, 19, ...) fails with an error
     * holding a comma, a quote and a line break.
     */
    static List<RequestResult> of(int n) {
        List<RequestResult> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int hits = i % 5;
            boolean failed = i % 10 == 9;
            long written = (10 - hits) * BLOCK_BYTES;
            long read = failed ? 0 : 10 * BLOCK_BYTES;
            out.add(new RequestResult(i, i * 100_000_000L, 10, hits, written, read, 1_000, 2_000, 1_000_000,
                    failed ? 0 : 1_000_000, (i + 1) * 1_000_000L, 20_000_000, 0,
                    failed ? "decode node 2: timed out, \"read\"\nafter 5 s" : null));
        }
        return out;
    }
}
