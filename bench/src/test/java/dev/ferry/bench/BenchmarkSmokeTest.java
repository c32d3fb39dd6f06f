package dev.ferry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.cluster.netns.NetnsTestBed;
import java.util.Collection;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** Runs each benchmark and its baseline for one short iteration, so the suite cannot rot. */
class BenchmarkSmokeTest {
    @Test
    void everyBenchmarkRunsBesideItsBaseline() throws Exception {
        // A smoke run measures nothing: it need not wait for JMH runs of other builds on this machine.
        System.setProperty("jmh.ignoreLock", "true");
        Options options = new OptionsBuilder()
                .include(TcpTransferBenchmark.class.getSimpleName())
                .include(ShmTransferBenchmark.class.getSimpleName())
                .include(AeronTransferBenchmark.class.getSimpleName())
                .include(SidecarBenchmark.class.getSimpleName())
                .include(ChecksumBenchmark.class.getSimpleName())
                .include(TransferLatencyBenchmark.class.getSimpleName())
                .param("chunkBytes", "1048576").param("requestBytes", "1048576")
                .forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(300)).shouldFailOnError(true).build();
        Collection<RunResult> results = new Runner(options).run();
        // TCP 4 (engine WRITE and READ, raw, raw with checksums), shared memory 3 (engine WRITE and READ, raw copy), Aeron 8 (engine over UDP and IPC, raw with and without checksums over 3 paths), sidecar 2 x 2
        // (with and without its lease cache), checksum and copy 2 x 2 (from DRAM and from cache), latency 6 (engine WRITE and READ over TCP
        // and Aeron UDP, raw NIO and raw Aeron round trips)
        assertThat(results).hasSize(29);
        assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
    }

    @Test
    void everyMasterOperationRunsOnTheSmallestStore() throws Exception {
        System.setProperty("jmh.ignoreLock", "true");
        Options options = new OptionsBuilder()
                .include(MasterBenchmark.class.getSimpleName())
                .param("blocks", "10000")
                .param("ssdBlocks", "10000")
                .forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(200)).shouldFailOnError(true).build();
        Collection<RunResult> results = new Runner(options).run();
        // one and two threads: lookup, its HashMap baseline, put (plain, past pinned blocks, beside SSD-only
        // blocks), get, heartbeat, expire; a get beside the reaper
        assertThat(results).hasSize(17);
        assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
    }

    @Test
    void masterRoundTripsRunBesideTheirPingPongBaselines() throws Exception {
        System.setProperty("jmh.ignoreLock", "true");
        Options options = new OptionsBuilder()
                .include(MasterRpcBenchmark.class.getSimpleName())
                .param("io", "epoll")
                .forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(300)).shouldFailOnError(true).build();
        Collection<RunResult> results = new Runner(options).run();
        // EXISTS and a put's start + commit, each beside its raw ping-pong
        assertThat(results).hasSize(4);
        assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
    }

    @Test
    void sprayingRunsBesideItsBaselineOverShapedLinks() throws Exception {
        var reason = NetnsTestBed.unavailableReason();
        Assumptions.assumeTrue(reason.isEmpty(), () -> SprayingBenchmark.UNAVAILABLE + ": " + reason.orElse(""));
        System.setProperty("jmh.ignoreLock", "true");
        Options options = new OptionsBuilder()
                .include(SprayingBenchmark.class.getSimpleName())
                .param("ratesMbits", "800/400").param("totalMiB", "16").param("requestMiB", "16")
                .param("dropLink", "-1", "0")
                .forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(300)).shouldFailOnError(true).build();
        Collection<RunResult> results = new Runner(options).run();
        assertThat(results).hasSize(6); // spraying, round-robin, raw TCP; each without and with link 0's drop
        assertThat(results).allSatisfy(r -> {
            assertThat(r.getPrimaryResult().getScore()).isPositive();
            assertThat(r.getSecondaryResults().get("megabits").getScore()).isPositive();
        });
    }
}
