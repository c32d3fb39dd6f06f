package dev.ferry.cluster.bench;

/**
 * One setting of {@code ferry bench replay} and what the replay measured.
 *
 * @param policy         eviction policy
 * @param capacityBlocks store capacity, blocks
 * @param requests       requests replayed
 * @param failed         requests that failed
 * @param hitRatio       prefix hit blocks over prompt blocks
 * @param ttftP50Ms      TTFT median, ms
 * @param ttftP90Ms      TTFT 90th percentile, ms
 * @param ttftP99Ms      TTFT 99th percentile, ms
 * @param transferGBps   bytes moved over time in transfers, GB/s
 * @param wallSeconds    replay wall time, s
 */
public record ReplayPoint(String policy, long capacityBlocks, int requests, int failed, double hitRatio,
                          double ttftP50Ms, double ttftP90Ms, double ttftP99Ms, double transferGBps,
                          double wallSeconds) {
}
