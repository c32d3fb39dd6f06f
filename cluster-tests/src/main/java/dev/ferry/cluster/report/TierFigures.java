package dev.ferry.cluster.report;

import java.util.List;
import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * What each tier served decode in a replay: blocks read from it, the time to read one block from
 * it, and the TTFT of the requests that it served most blocks of ({@link RequestResult#mainTier()}).
 * The time per block is the clean comparison of the tiers; a request's TTFT also holds its
 * prefill compute, which a long cached prefix (the GPU tier's case) shortens as well. Immutable; thread-safe.
 *
 * <p>The GPU tier's own copies are in TTFT: a block prefill writes lands in its GPU tier and is
 * copied back down before its WRITE (in the write time), and a block decode reads from the store
 * is promoted into its GPU tier (in the read time, so in a DRAM or SSD block's time per block):
 * {@link #copies} says how long they took.
 *
 * @param gpu    decode's own GPU tier (no transfer)
 * @param dram   a store node's DRAM (a READ transfer, and the promotion into decode's GPU tier)
 * @param ssd    a store node's SSD tier (loaded into its DRAM, then a READ transfer and the promotion)
 * @param copies the GPU tiers' copies besides hits: landing with the copy down, and promotion
 */
public record TierFigures(Tier gpu, Tier dram, Tier ssd, Copies copies) {
    /**
     * @param landUsPerBlock    mean time to land one written block in prefill's GPU tier and copy it
     *                          back down, µs per block written; 0 without a GPU tier
     * @param promoteUsPerBlock mean time to promote one block read from the store into decode's GPU
     *                          tier, µs per block read from DRAM or SSD; 0 without a GPU tier
     * @param landMs            all landing and copying down, ms (part of the write times)
     * @param promoteMs         all promotion, ms (part of the read times)
     * @param elsewhereBlocks   of the blocks decode read from the store, those prefill's GPU tier
     *                          held as the master knew it after the read (the master's locality hint)
     */
    public record Copies(double landUsPerBlock, double promoteUsPerBlock, double landMs, double promoteMs,
                         long elsewhereBlocks) {
    }

    /**
     * @param blocksRead    blocks decode read from this tier
     * @param usPerBlock    mean time to read one block from this tier, µs; 0 when none was read
     *                      (for DRAM and SSD together: the READ time of the blocks that were not GPU hits)
     * @param requests      successful requests that this tier served most blocks of
     * @param ttftP50Ms     their TTFT median, ms; 0 when there are none
     * @param ttftP99Ms     their TTFT 99th percentile, ms
     */
    public record Tier(long blocksRead, double usPerBlock, int requests, double ttftP50Ms, double ttftP99Ms) {
    }

    /** Figures of the successful requests among {@code results}. */
    public static TierFigures of(List<RequestResult> results) {
        long gpuBlocks = 0, dramBlocks = 0, ssdBlocks = 0, gpuNanos = 0, storeNanos = 0;
        long written = 0, landNanos = 0, promoteNanos = 0, elsewhere = 0;
        Histogram gpu = new Histogram(3), dram = new Histogram(3), ssd = new Histogram(3);
        for (RequestResult r : results) {
            if (r.failed()) {
                continue;
            }
            gpuBlocks += r.gpuReadBlocks();
            ssdBlocks += r.ssdReadBlocks();
            dramBlocks += r.dramReadBlocks();
            gpuNanos += r.gpuReadNanos();
            storeNanos += r.readNanos() - r.gpuReadNanos();
            written += r.blocks() - r.hitBlocks();
            landNanos += r.gpuWriteNanos();
            promoteNanos += r.promoteNanos();
            elsewhere += r.elsewhereGpuBlocks();
            Histogram h = switch (r.mainTier()) {
                case "gpu" -> gpu;
                case "ssd" -> ssd;
                default -> dram;
            };
            h.recordValue(Math.max(1, r.ttftNanos() / 1000));
        }
        double storeUs = dramBlocks + ssdBlocks == 0 ? 0 : storeNanos / 1e3 / (dramBlocks + ssdBlocks);
        return new TierFigures(tier(gpuBlocks, gpuBlocks == 0 ? 0 : gpuNanos / 1e3 / gpuBlocks, gpu),
                tier(dramBlocks, dramBlocks == 0 ? 0 : storeUs, dram), tier(ssdBlocks, ssdBlocks == 0 ? 0 : storeUs, ssd),
                new Copies(written == 0 ? 0 : landNanos / 1e3 / written,
                        dramBlocks + ssdBlocks == 0 ? 0 : promoteNanos / 1e3 / (dramBlocks + ssdBlocks),
                        landNanos / 1e6, promoteNanos / 1e6, elsewhere));
    }

    private static Tier tier(long blocks, double usPerBlock, Histogram ttft) {
        return new Tier(blocks, usPerBlock, (int) ttft.getTotalCount(), ms(ttft, 50), ms(ttft, 99));
    }

    private static double ms(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1000.0;
    }

    /** One line per tier for the terminal report, and one for the GPU tiers' copies where there were any, e.g. {@code "  gpu   120 blocks  310.2 µs/block  ..."}. */
    List<String> lines() {
        if (copies.landMs() == 0 && copies.promoteMs() == 0) { // no GPU tier
            return List.of(line("gpu", gpu), line("dram", dram), line("ssd", ssd));
        }
        return List.of(line("gpu", gpu), line("dram", dram), line("ssd", ssd), String.format(Locale.ROOT,
                "GPU tier copies in TTFT: landing + copy down %.1f us/block written (%.1f ms in all), promotion "
                        + "%.1f us/block read from the store (%.1f ms, in the dram/ssd times above); of the blocks "
                        + "read from the store, %d were in prefill's GPU tier (the master's hint)",
                copies.landUsPerBlock(), copies.landMs(), copies.promoteUsPerBlock(), copies.promoteMs(),
                copies.elsewhereBlocks()));
    }

    private static String line(String name, Tier t) {
        return String.format(Locale.ROOT, "%-4s %6d blocks read (%.1f us/block); %d requests with TTFT p50/p99 "
                + "%.2f / %.2f ms", name, t.blocksRead(), t.usPerBlock(), t.requests(), t.ttftP50Ms(), t.ttftP99Ms());
    }
}
