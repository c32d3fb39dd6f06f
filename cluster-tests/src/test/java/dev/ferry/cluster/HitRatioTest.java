package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.ferry.store.block.BlockKey;
import dev.ferry.prefill.trace.TraceReader;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.Placement;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Ferry's master, driven the way a prefill node drives it (lookup, then put the rest),
 * reproduces the reference hit ratios of the trace's README, and matches an independent
 * reference LRU request for request.
 */
class HitRatioTest {
    private static final long BLOCK = 4096;

    @ParameterizedTest(name = "capacity {0}: {1}")
    @CsvSource({"10000, 0.2112", "1000, 0.0445", "50000, 0.3546", "1000000000, 0.3664"})
    void wholeTraceMatchesTheReadme(long capacity, double readme) {
        List<TraceRequest> trace = TraceReader.read(Traces.conversation(), 0);
        assertThat(trace).hasSize(12_031);
        assertThat(trace.stream().mapToLong(r -> r.blockKeys().length).sum()).isEqualTo(288_500);
        double ferry = replay(trace, Math.min(capacity, 400_000));
        assertThat(ferry).isCloseTo(readme, within(0.00005));
        assertThat(ferry).isEqualTo(ReferenceLru.hitRatio(trace, capacity));
    }

    @ParameterizedTest(name = "generated trace, capacity {0}")
    @CsvSource({"50", "200", "5000"})
    void generatedTraceMatchesTheReferenceLru(long capacity) {
        List<TraceRequest> trace = dev.ferry.prefill.trace.TraceGenerator.generate(11, 3000);
        assertThat(replay(trace, capacity)).isEqualTo(ReferenceLru.hitRatio(trace, capacity)).isPositive();
    }

    /** Hit ratio of the master with exactly {@code capacity} blocks over two segments. */
    static double replay(List<TraceRequest> trace, long capacity) {
        Master master = new Master(new LruPolicy(), System::nanoTime, Long.MAX_VALUE, Long.MAX_VALUE);
        master.registerNode("a", new SegmentDescriptor("a", (capacity / 2 + capacity % 2) * BLOCK,
                new Endpoint("127.0.0.1", 1)));
        master.registerNode("b", new SegmentDescriptor("b", capacity / 2 * BLOCK, new Endpoint("127.0.0.1", 2)));
        long hits = 0;
        long blocks = 0;
        for (TraceRequest r : trace) {
            BlockKey[] keys = BlockKey.ofAll(r.blockKeys());
            int hit = master.lookupPrefix(keys);
            List<Placement> placements = master.putStart(Arrays.copyOfRange(keys, hit, keys.length), BLOCK);
            BlockKey[] written = placements.stream().filter(p -> !p.exists()).map(Placement::key).toArray(BlockKey[]::new);
            master.putCommit(written, new int[written.length]);
            hits += hit;
            blocks += keys.length;
        }
        return (double) hits / blocks;
    }
}
