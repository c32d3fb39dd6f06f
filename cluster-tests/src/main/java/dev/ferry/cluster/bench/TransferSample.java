package dev.ferry.cluster.bench;

/**
 * One interval of a transfer benchmark.
 *
 * @param second     end of the interval, s since the start
 * @param gbps       bytes moved over the interval, GB/s (1e9 bytes/s)
 * @param requestsPerSecond requests completed per second
 * @param p50Millis  batch latency median, ms
 * @param p99Millis  batch latency 99th percentile, ms
 * @param p999Millis batch latency 99.9th percentile, ms
 */
public record TransferSample(double second, double gbps, double requestsPerSecond, double p50Millis,
                             double p99Millis, double p999Millis) {
}
