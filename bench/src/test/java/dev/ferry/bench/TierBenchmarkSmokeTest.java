package dev.ferry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collection;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** Runs each store tier benchmark and its baseline once, on a tiny data set, so they cannot rot. */
class TierBenchmarkSmokeTest {
    @Test
    void everyTierBenchmarkRunsBesideItsBaseline() throws Exception {
        Options options = new OptionsBuilder()
                .include(SsdTierBenchmark.class.getSimpleName())
                .include(DramTierBenchmark.class.getSimpleName())
                .param("blockBytes", "65536").param("dataSetBytes", "1048576").param("getBytes", "1048576")
                .forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(200)).shouldFailOnError(true).build();
        Collection<RunResult> results = new Runner(options).run();
        assertThat(results).hasSize(9); // SSD: 4 (tier and raw, put and get); DRAM: 5
        assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
    }
}
