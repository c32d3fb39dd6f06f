package dev.ferry.prefill.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceGeneratorTest {
    private static final List<TraceRequest> TRACE = TraceGenerator.generate(7, 2000);

    @Test
    void equalSeedsGiveEqualTraces() {
        List<TraceRequest> again = TraceGenerator.generate(7, 2000);
        for (int i = 0; i < TRACE.size(); i++) {
            TraceRequest a = TRACE.get(i);
            TraceRequest b = again.get(i);
            assertThat(b.blockKeys()).containsExactly(a.blockKeys());
            assertThat(List.of(b.index(), b.timestampMs(), b.inputTokens(), b.outputTokens()))
                    .isEqualTo(List.of(a.index(), a.timestampMs(), a.inputTokens(), a.outputTokens()));
        }
        assertThat(TraceGenerator.generate(8, 50).get(49).timestampMs()).isNotEqualTo(TRACE.get(49).timestampMs());
    }

    @Test
    void requestsHaveTheMooncakeShape() {
        assertThat(TRACE).hasSize(2000);
        for (int i = 0; i < TRACE.size(); i++) {
            TraceRequest r = TRACE.get(i);
            int blocks = r.blockKeys().length;
            assertThat(r.index()).isEqualTo(i);
            assertThat(blocks).isBetween(2, 40);
            assertThat(r.inputTokens()).isBetween((blocks - 1) * 512 + 1, blocks * 512);
            assertThat(r.outputTokens()).isBetween(50, 800);
        }
        assertThat(TRACE).isSortedAccordingTo((x, y) -> Long.compare(x.timestampMs(), y.timestampMs()));
        double seconds = TRACE.get(TRACE.size() - 1).timestampMs() / 1000.0;
        assertThat(TRACE.size() / seconds).isBetween(3.0, 5.0); // ~4 requests/s
    }

    @Test
    void blockIdsAreNumberedInOrderOfFirstAppearance() {
        long next = 0;
        Set<Long> seen = new HashSet<>();
        for (TraceRequest r : TRACE) {
            for (long k : r.blockKeys()) {
                if (seen.add(k)) {
                    assertThat(k).isEqualTo(next++);
                }
            }
        }
    }

    @Test
    void conversationsShareSystemPromptsAndExtendTheirPrefix() {
        Set<Long> firstBlocks = new HashSet<>();
        TRACE.forEach(r -> firstBlocks.add(r.blockKeys()[0]));
        assertThat(firstBlocks).hasSizeBetween(2, 4);
        assertThat(PrefixReuse.unboundedHitRatio(TRACE)).isBetween(0.2, 0.8);
    }

    @Test
    void roundTripsThroughTheReader(@TempDir Path dir) {
        Path file = dir.resolve("gen.jsonl");
        TraceGenerator.write(TRACE, file);
        List<TraceRequest> back = TraceReader.read(file, 0);
        assertThat(back).hasSize(TRACE.size());
        for (int i = 0; i < back.size(); i++) {
            assertThat(back.get(i).blockKeys()).containsExactly(TRACE.get(i).blockKeys());
            assertThat(back.get(i).timestampMs()).isEqualTo(TRACE.get(i).timestampMs());
            assertThat(back.get(i).inputTokens()).isEqualTo(TRACE.get(i).inputTokens());
            assertThat(back.get(i).outputTokens()).isEqualTo(TRACE.get(i).outputTokens());
        }
    }

    @Test
    void negativeCountsAreRejected() {
        assertThat(TraceGenerator.generate(1, 0)).isEmpty();
        assertThatThrownBy(() -> TraceGenerator.generate(1, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
    }
}
