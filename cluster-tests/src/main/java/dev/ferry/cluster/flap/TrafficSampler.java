package dev.ferry.cluster.flap;

import dev.ferry.store.handoff.TrafficProtocol;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.metrics.LinkTraffic;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Asks transfer engines what they carried (the TRAFFIC method of prefill and decode nodes),
 * about once a millisecond per node, on a thread of its own, and keeps per sample: when it
 * was taken, the bytes completed over all links, and the failures and bytes of the links a
 * predicate picks (those of a flapping link). A node that does not answer is skipped.
 *
 * <p>Thread-safe; {@link #samples} after {@link #close}.
 */
public final class TrafficSampler implements AutoCloseable {
    /**
     * A node's samples, in time order.
     *
     * @param nanos         when each was taken ({@link System#nanoTime()}, after its answer came)
     * @param bytes         bytes completed over all the node's links
     * @param watchedFailures failures of the watched links
     * @param watchedBytes  bytes completed on the watched links
     */
    public record Samples(long[] nanos, long[] bytes, long[] watchedFailures, long[] watchedBytes) {
        public int size() {
            return nanos.length;
        }
    }

    private static final class Series {
        long[] nanos = new long[4096];
        long[] bytes = new long[4096];
        long[] failures = new long[4096];
        long[] watched = new long[4096];
        int count;

        void add(long t, long b, long f, long w) {
            if (count == nanos.length) {
                int n = count * 2;
                nanos = Arrays.copyOf(nanos, n);
                bytes = Arrays.copyOf(bytes, n);
                failures = Arrays.copyOf(failures, n);
                watched = Arrays.copyOf(watched, n);
            }
            nanos[count] = t;
            bytes[count] = b;
            failures[count] = f;
            watched[count++] = w;
        }

        Samples freeze() {
            return new Samples(Arrays.copyOf(nanos, count), Arrays.copyOf(bytes, count),
                    Arrays.copyOf(failures, count), Arrays.copyOf(watched, count));
        }
    }

    private final Map<String, RpcClient> clients = new LinkedHashMap<>();
    private final Map<String, Series> series = new LinkedHashMap<>();
    private final Predicate<String> watched;
    private final Thread thread;
    private volatile boolean running = true;

    /**
     * Starts sampling.
     *
     * @param nodes   RPC address ({@code host}, {@code port}) by node name
     * @param watched picks the links (by name) whose failures and bytes are kept apart
     */
    public TrafficSampler(Map<String, Map.Entry<String, Integer>> nodes, Predicate<String> watched) {
        this.watched = watched;
        try {
            nodes.forEach((name, address) -> {
                clients.put(name, new RpcClient(address.getKey(), address.getValue(), 2_000));
                series.put(name, new Series());
            });
        } catch (RuntimeException e) {
            clients.values().forEach(RpcClient::close);
            throw e;
        }
        this.thread = Thread.ofPlatform().daemon().name("ferry-traffic-sampler").start(this::run);
    }

    private void run() {
        while (running) {
            clients.forEach((name, client) -> {
                List<LinkTraffic> links;
                try {
                    links = client.call(TrafficProtocol.TRAFFIC, b -> { }, TrafficProtocol::read);
                } catch (RpcException e) {
                    return; // a node that went away: no sample
                }
                long now = System.nanoTime();
                long bytes = 0;
                long failures = 0;
                long watchedBytes = 0;
                for (LinkTraffic l : links) {
                    bytes += l.bytes();
                    if (watched.test(l.link())) {
                        failures += l.failures();
                        watchedBytes += l.bytes();
                    }
                }
                synchronized (series) {
                    series.get(name).add(now, bytes, failures, watchedBytes);
                }
            });
            try {
                TimeUnit.MILLISECONDS.sleep(1);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** The samples by node name. */
    public Map<String, Samples> samples() {
        Map<String, Samples> out = new LinkedHashMap<>();
        synchronized (series) {
            series.forEach((name, s) -> out.put(name, s.freeze()));
        }
        return out;
    }

    /** Stops sampling and closes the connections. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        try {
            thread.join();
        } finally {
            new ArrayList<>(clients.values()).forEach(RpcClient::close);
        }
    }
}
