package dev.ferry.cluster.flap;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What each cut of a flapping link cost the transfer engines that used it, from their
 * sampled counters ({@link TrafficSampler}):
 * <ul>
 *   <li><b>detection</b>: from the cut until the first failure counted on the cut link (the
 *       engine gave up on a slice in flight there: its stall timeout, or the connection's
 *       end), the earliest over the nodes; none when no slice was in flight on it, or the cut
 *       healed before the stall timeout ran out;</li>
 *   <li><b>stall after detection</b>: from the detection until that node's bytes complete
 *       again (on any link): the throughput stall beyond detection that TENT puts under
 *       50 ms;</li>
 *   <li><b>longest pause</b>: the longest time without bytes completing on any node, from the
 *       cut until one period after it came back (detection included).</li>
 * </ul>
 * Times are as fine as the sampling (about 1 ms per node, plus a TRAFFIC round trip).
 * Immutable; thread-safe.
 *
 * @param device             the link that flapped, as the report names it
 * @param everyMillis        period of the cuts, ms
 * @param downMillis         length of each cut, ms
 * @param stallTimeoutMillis the engines' stall timeout, ms
 * @param flaps              one entry per cut
 */
public record FlapReport(String device, long everyMillis, long downMillis, long stallTimeoutMillis, List<Flap> flaps) {
    /**
     * One cut.
     *
     * @param downAtSeconds            when the link went down, seconds after the sampling began
     * @param detectionMillis          cut to first failure on it, ms; -1 when none was counted
     * @param detectedBy               the node that counted it first, or empty
     * @param stallAfterDetectionMillis detection to the next bytes completing on that node, ms; -1 without detection
     * @param longestPauseMillis       longest time without bytes on any node around the cut, ms
     */
    public record Flap(double downAtSeconds, double detectionMillis, String detectedBy, double stallAfterDetectionMillis,
                       double longestPauseMillis) {
    }

    public FlapReport {
        flaps = List.copyOf(flaps);
    }

    /** Analyses {@code cuts} against the {@code samples} of each node. */
    public static FlapReport of(String device, long everyMillis, long downMillis, long stallTimeoutMillis,
                                List<LinkFlapper.Cut> cuts, Map<String, TrafficSampler.Samples> samples) {
        long origin = samples.values().stream().filter(s -> s.size() > 0).mapToLong(s -> s.nanos()[0]).min()
                .orElse(cuts.isEmpty() ? 0 : cuts.getFirst().downNanos());
        List<Flap> flaps = new ArrayList<>();
        for (int c = 0; c < cuts.size(); c++) {
            LinkFlapper.Cut cut = cuts.get(c);
            long end = c + 1 < cuts.size() ? cuts.get(c + 1).downNanos()
                    : cut.upNanos() + TimeUnit.MILLISECONDS.toNanos(everyMillis - downMillis);
            long detected = -1;
            String by = "";
            for (var e : samples.entrySet()) {
                long t = firstFailureAfter(e.getValue(), cut.downNanos(), end);
                if (t >= 0 && (detected < 0 || t < detected)) {
                    detected = t;
                    by = e.getKey();
                }
            }
            double stall = -1;
            if (detected >= 0) {
                long resumed = firstBytesAfter(samples.get(by), detected);
                stall = resumed < 0 ? -1 : millis(resumed - detected);
            }
            long pause = 0;
            for (TrafficSampler.Samples s : samples.values()) {
                pause = Math.max(pause, longestPause(s, cut.downNanos(), end));
            }
            flaps.add(new Flap((cut.downNanos() - origin) / 1e9, detected < 0 ? -1 : millis(detected - cut.downNanos()),
                    by, stall, millis(pause)));
        }
        return new FlapReport(device, everyMillis, downMillis, stallTimeoutMillis, flaps);
    }

    /** When the watched links' failures first rose after {@code from} (and by {@code to}), or -1. */
    private static long firstFailureAfter(TrafficSampler.Samples s, long from, long to) {
        long before = -1;
        for (int i = 0; i < s.size() && s.nanos()[i] <= to; i++) {
            if (s.nanos()[i] <= from) {
                before = s.watchedFailures()[i];
            } else if (before >= 0 && s.watchedFailures()[i] > before) {
                return s.nanos()[i];
            }
        }
        return -1;
    }

    /** When bytes first completed after the sample taken at {@code at}, or -1. */
    private static long firstBytesAfter(TrafficSampler.Samples s, long at) {
        long base = -1;
        for (int i = 0; i < s.size(); i++) {
            if (s.nanos()[i] <= at) {
                base = s.bytes()[i];
            } else if (base >= 0 && s.bytes()[i] > base) {
                return s.nanos()[i];
            }
        }
        return -1;
    }

    /** The longest time within {@code [from, to]} between samples that show bytes completing, ns. */
    private static long longestPause(TrafficSampler.Samples s, long from, long to) {
        long longest = 0;
        long since = from;
        long last = from;
        for (int i = 1; i < s.size(); i++) {
            long t = s.nanos()[i];
            if (t <= from) {
                continue;
            }
            if (t > to) {
                break;
            }
            last = t;
            if (s.bytes()[i] > s.bytes()[i - 1]) {
                longest = Math.max(longest, t - since);
                since = t;
            }
        }
        return Math.max(longest, last - since);
    }

    private static double millis(long nanos) {
        return nanos / 1e6;
    }

    /** Cuts whose detection was counted. */
    public List<Flap> detected() {
        return flaps.stream().filter(f -> f.detectionMillis() >= 0).toList();
    }

    /** Median and maximum of detection, stall after detection and longest pause over the detected cuts, ms. */
    public Map<String, Object> toJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("device", device);
        out.put("everyMillis", everyMillis);
        out.put("downMillis", downMillis);
        out.put("stallTimeoutMillis", stallTimeoutMillis);
        out.put("flaps", flaps.size());
        out.put("detected", detected().size());
        out.put("detectionMillis", stats(detected().stream().mapToDouble(Flap::detectionMillis).toArray()));
        out.put("stallAfterDetectionMillis", stats(detected().stream().mapToDouble(Flap::stallAfterDetectionMillis)
                .filter(v -> v >= 0).toArray()));
        out.put("longestPauseMillis", stats(flaps.stream().mapToDouble(Flap::longestPauseMillis).toArray()));
        out.put("perFlap", flaps);
        return out;
    }

    private static Map<String, Double> stats(double[] values) {
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("median", median(values));
        out.put("max", java.util.Arrays.stream(values).max().orElse(Double.NaN));
        return out;
    }

    static double median(double[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        double[] v = values.clone();
        java.util.Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** The report's lines: one per cut, then the medians and maxima. */
    public List<String> format() {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < flaps.size(); i++) {
            Flap f = flaps.get(i);
            lines.add(String.format(Locale.ROOT, "flap %d at %.1f s: %s; longest pause of all bytes %.0f ms", i + 1,
                    f.downAtSeconds(), f.detectionMillis() < 0 ? "no slice caught on the link (none in flight, or it "
                            + "came back within the stall timeout)" : String.format(Locale.ROOT, "detected after %.0f ms "
                            + "(%s), bytes again %.1f ms after detection", f.detectionMillis(), f.detectedBy(),
                            f.stallAfterDetectionMillis()), f.longestPauseMillis()));
        }
        List<Flap> d = detected();
        lines.add(String.format(Locale.ROOT, "%d flaps of %s (%d ms down every %d ms), %d detected (stall timeout %d ms): "
                        + "detection median %.0f ms, max %.0f ms; stall after detection median %.1f ms, max %.1f ms",
                flaps.size(), device, downMillis, everyMillis, d.size(), stallTimeoutMillis,
                median(d.stream().mapToDouble(Flap::detectionMillis).toArray()),
                d.stream().mapToDouble(Flap::detectionMillis).max().orElse(Double.NaN),
                median(d.stream().mapToDouble(Flap::stallAfterDetectionMillis).filter(v -> v >= 0).toArray()),
                d.stream().mapToDouble(Flap::stallAfterDetectionMillis).max().orElse(Double.NaN)));
        return lines;
    }
}
