package dev.ferry.cluster.flap;

import dev.ferry.cluster.LocalCluster;
import dev.ferry.cluster.netns.NetnsHosts;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Link flaps during a replay of a cluster on network namespaces: samples what prefill's and
 * decode's engines carry ({@link TrafficSampler}) while a {@link LinkFlapper} takes one link
 * of one role down and up again, and {@link #finish} stops both and reports each cut
 * ({@link FlapReport}). Not thread-safe: one owner starts and finishes it.
 */
public final class FlapRun {
    private final TrafficSampler sampler;
    private final LinkFlapper flapper;
    private final String device;

    private FlapRun(TrafficSampler sampler, LinkFlapper flapper, String device) {
        this.sampler = sampler;
        this.flapper = flapper;
        this.device = device;
    }

    /**
     * Starts sampling, then flapping link {@code link} of {@code role}.
     *
     * @param everyMillis period of the cuts, ms
     * @param downMillis  length of each cut, ms
     * @throws IllegalArgumentException for a role or link the bed does not have
     */
    public static FlapRun start(LocalCluster cluster, NetnsHosts hosts, String role, int link, long everyMillis,
                                long downMillis) {
        String address = hosts.addresses(role).get(link);
        String device = role + " eth" + link + " (" + address + ")";
        Map<String, Map.Entry<String, Integer>> nodes = new LinkedHashMap<>();
        nodes.put("prefill", Map.entry(cluster.prefill().host(), cluster.prefill().port()));
        nodes.put("decode", Map.entry(cluster.decode().host(), cluster.decode().port()));
        // Link names are "tcp:HOST:PORT#i": the links to that address are those through the cut.
        TrafficSampler sampler = new TrafficSampler(nodes, name -> name.contains(":" + address + ":"));
        try {
            return new FlapRun(sampler, new LinkFlapper(up -> hosts.setLinkUp(role, link, up), everyMillis,
                    downMillis), device);
        } catch (RuntimeException e) {
            closeQuietly(sampler);
            throw e;
        }
    }

    /**
     * Stops flapping (the link is left up) and sampling.
     *
     * @param stallTimeoutMillis the engines' stall timeout, for the report
     * @throws IllegalStateException when the link could not be switched
     */
    public FlapReport finish(long stallTimeoutMillis) throws InterruptedException {
        try {
            flapper.close();
        } finally {
            sampler.close();
        }
        List<LinkFlapper.Cut> cuts = flapper.cuts();
        return FlapReport.of(device, flapper.everyMillis(), flapper.downMillis(), stallTimeoutMillis, cuts,
                sampler.samples());
    }

    private static void closeQuietly(TrafficSampler sampler) {
        try {
            sampler.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
