package dev.ferry.cluster.report;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes the report of a replay into one directory, replacing files of the same names:
 * <ul>
 *   <li>{@code requests.arrow}: Arrow IPC file, one row per request, one column per
 *       {@link RequestResult} field (snake_case, times in ns, {@code error} nullable); open it
 *       with pandas, Polars or DuckDB;</li>
 *   <li>{@code requests.csv}: the same rows as CSV (RFC 4180 quoting of {@code error});</li>
 *   <li>{@code summary.json}: the {@link ReplaySummary}, the title and, when given, the
 *       {@link TrafficReport} (bytes per transport and per link);</li>
 *   <li>{@code ttft.png}: TTFT (ms) over arrival time (s), a scatter, 900x500;</li>
 *   <li>{@code ttft-cdf.png}: the CDF of TTFT, 900x500.</li>
 * </ul>
 * Stateless; thread-safe as long as two calls do not write the same directory.
 */
public final class ReportFiles {
    private ReportFiles() {
    }

    /**
     * Writes all five files, creating {@code dir} as needed.
     *
     * @param title the charts' title and the {@code title} of the summary and Arrow metadata
     * @return the files written, in the order listed above
     * @throws UncheckedIOException naming {@code dir} when a file cannot be written
     */
    public static List<Path> write(Path dir, List<RequestResult> results, ReplaySummary summary, String title) {
        return write(dir, results, title, summary, null, Map.of());
    }

    /**
     * Writes all five files, {@code summary.json} with the bytes per transport and per link.
     *
     * @param traffic what the nodes' transfer engines carried, or null when it could not be read
     * @return the files written, in the order listed above
     * @throws UncheckedIOException naming {@code dir} when a file cannot be written
     */
    public static List<Path> write(Path dir, List<RequestResult> results, ReplaySummary summary,
                                   TrafficReport traffic, String title) {
        return write(dir, results, title, summary, traffic, Map.of());
    }

    /**
     * As {@link #write(Path, List, ReplaySummary, TrafficReport, String)}, with more sections
     * of {@code summary.json} after the others (such as {@code linkFlaps}).
     *
     * @param more top-level keys and their values (Jackson serialises them), in order
     * @throws UncheckedIOException naming {@code dir} when a file cannot be written
     */
    public static List<Path> write(Path dir, List<RequestResult> results, ReplaySummary summary,
                                   TrafficReport traffic, String title, Map<String, Object> more) {
        return write(dir, results, title, summary, traffic, more);
    }

    /**
     * Writes every file but {@code summary.json}. Kept for callers without a summary at hand;
     * prefer {@link #write(Path, List, ReplaySummary, String)}.
     *
     * @return the files written
     * @throws UncheckedIOException naming {@code dir} when a file cannot be written
     */
    public static List<Path> write(Path dir, List<RequestResult> results, String title) {
        return write(dir, results, title, null, null, Map.of());
    }

    private static List<Path> write(Path dir, List<RequestResult> results, String title, ReplaySummary summary,
                                    TrafficReport traffic, Map<String, Object> more) {
        try {
            Files.createDirectories(dir);
            List<Path> out = new ArrayList<>();
            out.add(ArrowResults.write(dir.resolve("requests.arrow"), results, title));
            out.add(CsvResults.write(dir.resolve("requests.csv"), results));
            if (summary != null) {
                out.add(SummaryJson.write(dir.resolve("summary.json"), summary, traffic, title, more));
            }
            out.add(TtftCharts.writeScatter(dir.resolve("ttft.png"), results, title));
            out.add(TtftCharts.writeCdf(dir.resolve("ttft-cdf.png"), results, title));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the report into " + dir, e);
        }
    }
}
