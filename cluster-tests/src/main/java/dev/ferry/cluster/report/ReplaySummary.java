package dev.ferry.cluster.report;

import java.util.List;
import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * The figures of a replay, computed from its per-request results. Immutable; thread-safe.
 *
 * @param requests       requests replayed
 * @param failed         requests that failed
 * @param blocks         prompt blocks over all requests
 * @param blocksWritten  blocks prefill had to produce: {@code blocks - hitBlocks} over all requests
 * @param blocksRead     blocks decode read: {@code blocks} over successful requests
 * @param hitRatio       prefix hit blocks over prompt blocks (all requests), 0 when there are none
 * @param bytesWritten   bytes written (all requests)
 * @param bytesRead      bytes read (all requests)
 * @param transferGBps   bytes moved over the summed time of the transfers, GB/s (1e9 bytes/s)
 * @param wallGBps       bytes moved over the replay's wall time, GB/s
 * @param writeGBps      bytes written over the summed time of the WRITE transfers, GB/s
 * @param readGBps       bytes read over the summed time of the READ transfers, GB/s
 * @param ttftP50Ms      TTFT median of successful requests, ms
 * @param ttftP90Ms      TTFT 90th percentile, ms
 * @param ttftP99Ms      TTFT 99th percentile, ms
 * @param tbtP50Ms       TBT median, ms
 * @param verifyFailures blocks that failed verification (must be 0)
 * @param wallSeconds    replay wall time, s
 * @param tiers          per tier (decode's GPU tier, DRAM, SSD): blocks read, time per block, and
 *                       TTFT of the requests each served most blocks of
 */
public record ReplaySummary(int requests, int failed, long blocks, long blocksWritten, long blocksRead,
                            double hitRatio, long bytesWritten, long bytesRead, double transferGBps, double wallGBps,
                            double writeGBps, double readGBps,
                            double ttftP50Ms, double ttftP90Ms, double ttftP99Ms, double tbtP50Ms,
                            long verifyFailures, double wallSeconds, TierFigures tiers) {

    /**
     * Summarises results. Percentiles come from HdrHistogram (3 significant digits, recorded in
     * µs) over successful requests; they are 0 when no request succeeded. Rates are 0 when no
     * time was spent.
     *
     * @param wallNanos the replay's wall time, ns
     */
    public static ReplaySummary of(List<RequestResult> results, long wallNanos) {
        Histogram ttft = new Histogram(3);
        Histogram tbt = new Histogram(3);
        long blocks = 0, hits = 0, written = 0, read = 0, bytesW = 0, bytesR = 0, nanos = 0, verify = 0;
        long writeNanos = 0, readNanos = 0;
        int failed = 0;
        for (RequestResult r : results) {
            blocks += r.blocks();
            hits += r.hitBlocks();
            written += r.blocks() - r.hitBlocks();
            verify += r.verifyFailures();
            bytesW += r.bytesWritten();
            bytesR += r.bytesRead();
            // Transfers only: the GPU tiers' copies (hits, landing, promotion) move nothing over the network.
            long transferWrite = r.writeNanos() - r.gpuWriteNanos();
            long transferRead = r.readNanos() - r.gpuReadNanos() - r.promoteNanos();
            nanos += transferWrite + transferRead;
            writeNanos += transferWrite;
            readNanos += transferRead;
            if (r.failed()) {
                failed++;
                continue;
            }
            read += r.blocks();
            ttft.recordValue(Math.max(1, r.ttftNanos() / 1000));
            tbt.recordValue(Math.max(1, r.tbtNanos() / 1000));
        }
        double moved = bytesW + bytesR;
        return new ReplaySummary(results.size(), failed, blocks, written, read,
                blocks == 0 ? 0 : (double) hits / blocks, bytesW, bytesR, nanos <= 0 ? 0 : moved / nanos,
                wallNanos <= 0 ? 0 : moved / wallNanos, rate(bytesW, writeNanos), rate(bytesR, readNanos), ms(ttft, 50), ms(ttft, 90), ms(ttft, 99), ms(tbt, 50),
                verify, wallNanos / 1e9, TierFigures.of(results));
    }

    private static double rate(long bytes, long nanos) {
        return nanos <= 0 ? 0 : (double) bytes / nanos;
    }

    private static double ms(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1000.0;
    }

    /**
     * A fixed-width table for the terminal: the header lines as given (e.g. trace, model
     * profile, capacity), then one row per figure.
     */
    public String format(List<String> header) {
        StringBuilder b = new StringBuilder();
        header.forEach(h -> b.append(h).append('\n'));
        row(b, "requests", String.format(Locale.ROOT, "%d (%d failed)", requests, failed));
        row(b, "prompt blocks", Long.toString(blocks));
        row(b, "blocks written", Long.toString(blocksWritten));
        row(b, "blocks read", Long.toString(blocksRead));
        row(b, "prefix hit ratio", String.format(Locale.ROOT, "%.4f", hitRatio));
        row(b, "bytes moved", String.format(Locale.ROOT, "%.2f GB written, %.2f GB read", bytesWritten / 1e9, bytesRead / 1e9));
        row(b, "transfer GB/s", String.format(Locale.ROOT, "%.2f in transfers, %.2f over wall time", transferGBps, wallGBps));
        row(b, "WRITE / READ GB/s", String.format(Locale.ROOT, "%.2f / %.2f in transfers (WRITE/READ %.2f)", writeGBps,
                readGBps, readGBps <= 0 ? 0 : writeGBps / readGBps));
        row(b, "TTFT p50/p90/p99", String.format(Locale.ROOT, "%.2f / %.2f / %.2f ms", ttftP50Ms, ttftP90Ms, ttftP99Ms));
        row(b, "TBT p50", String.format(Locale.ROOT, "%.2f ms (modeled)", tbtP50Ms));
        List<String> perTier = tiers.lines();
        for (int i = 0; i < perTier.size(); i++) {
            row(b, i == 0 ? "reads per tier" : "", perTier.get(i));
        }
        row(b, "verify failures", Long.toString(verifyFailures));
        row(b, "wall time", String.format(Locale.ROOT, "%.1f s", wallSeconds));
        return b.toString();
    }

    private static void row(StringBuilder b, String name, String value) {
        b.append(String.format(Locale.ROOT, "  %-18s %s%n", name, value));
    }
}
