package dev.ferry.cluster.report;

import dev.ferry.transfer.metrics.LinkTraffic;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Which transports and links carried a replay's bytes: the counters of the prefill and decode
 * nodes' transfer engines, read once after the replay. Immutable; thread-safe.
 *
 * @param links every link of both nodes (shared memory as one entry per node)
 */
public record TrafficReport(List<NodeLink> links) {
    /**
     * One link of one node.
     *
     * @param node      {@code prefill} or {@code decode}
     * @param transport {@code tcp}, {@code aeron}, {@code aeron-ipc} or {@code shm}
     * @param link      the link's name
     * @param bytes     bytes completed on it
     * @param slices    slices completed on it (shared memory: copies)
     * @param failures  slices that failed on it (a cut, a stall, a garbled frame) and were resent
     *                  or failed their request
     */
    public record NodeLink(String node, String transport, String link, long bytes, long slices, long failures) {
    }

    public TrafficReport {
        links = List.copyOf(links);
    }

    /** The links of {@code nodes}, each node's list as its engine reported it. */
    public static TrafficReport of(Map<String, List<LinkTraffic>> nodes) {
        List<NodeLink> out = new ArrayList<>();
        nodes.forEach((node, links) -> links.forEach(l -> out.add(new NodeLink(node, l.transport(), l.link(),
                l.bytes(), l.slices(), l.failures()))));
        return new TrafficReport(out);
    }

    /** Bytes per transport over both nodes, every known transport present (0 when unused), in report order. */
    public Map<String, Long> bytesByTransport() {
        Map<String, Long> out = zeroes();
        links.forEach(l -> out.merge(l.transport(), l.bytes(), Long::sum));
        return out;
    }

    /** Slices per transport over both nodes, as {@link #bytesByTransport()}. */
    public Map<String, Long> slicesByTransport() {
        Map<String, Long> out = zeroes();
        links.forEach(l -> out.merge(l.transport(), l.slices(), Long::sum));
        return out;
    }

    /** Bytes over every transport. */
    public long totalBytes() {
        return links.stream().mapToLong(NodeLink::bytes).sum();
    }

    /** The terminal line's value: {@code tcp 5.6 GB, aeron 0 B, aeron-ipc 0 B, shm 0 B}. */
    public String formatBytesByTransport() {
        List<String> parts = new ArrayList<>();
        bytesByTransport().forEach((t, b) -> parts.add(t + " " + bytes(b)));
        return String.join(", ", parts);
    }

    /** Bytes in decimal units with one decimal: {@code 0 B}, {@code 512 B}, {@code 1.5 kB}, {@code 5.6 GB}. */
    static String bytes(long n) {
        if (n < 1_000) {
            return n + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB", "PB"};
        double v = n;
        int u = -1;
        while (v >= 1_000 && u < units.length - 1) {
            v /= 1_000;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private static Map<String, Long> zeroes() {
        Map<String, Long> out = new LinkedHashMap<>();
        LinkTraffic.TRANSPORTS.forEach(t -> out.put(t, 0L));
        return out;
    }
}
