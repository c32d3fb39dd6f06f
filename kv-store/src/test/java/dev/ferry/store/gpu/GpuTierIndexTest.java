package dev.ferry.store.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GPU tier's local index: what a process held is what the next one learns was lost. */
class GpuTierIndexTest {
    @Test
    void theNextProcessLearnsWhatThePreviousOneHeldEvenWithoutAClose(@TempDir Path dir) {
        Path file = dir.resolve("decode-gpu.index");
        GpuTierIndex first = new GpuTierIndex(file);
        assertThat(first.lost()).isEmpty();
        first.held(BlockKey.of(1));
        first.held(BlockKey.of(2));
        first.held(BlockKey.of(3));
        first.dropped(BlockKey.of(2));
        // no close: the process was killed
        try (GpuTierIndex second = new GpuTierIndex(file)) {
            assertThat(second.lost()).containsExactly(BlockKey.of(1), BlockKey.of(3));
        }
        try (GpuTierIndex third = new GpuTierIndex(file)) {
            assertThat(third.lost()).as("the second process held nothing").isEmpty();
        }
    }

    @Test
    void aTornLastRecordIsIgnored(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("gpu.index");
        try (GpuTierIndex index = new GpuTierIndex(file)) {
            index.held(BlockKey.of(5));
        }
        Files.write(file, new byte[] {1, 0, 0, 0}, StandardOpenOption.APPEND);
        try (GpuTierIndex index = new GpuTierIndex(file)) {
            assertThat(index.lost()).containsExactly(BlockKey.of(5));
        }
    }

    @Test
    void aLongLifeIsCompactedAndStillSaysWhatIsHeld(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("gpu.index");
        GpuTierIndex index = new GpuTierIndex(file);
        for (long k = 0; k < 5_000; k++) {
            index.held(BlockKey.of(k));
            if (k >= 2) {
                index.dropped(BlockKey.of(k - 2));
            }
        }
        assertThat(Files.size(file)).isLessThan(2_048L * 17);
        index.close();
        try (GpuTierIndex next = new GpuTierIndex(file)) {
            assertThat(next.lost()).containsExactlyInAnyOrder(BlockKey.of(4_998), BlockKey.of(4_999));
        }
    }
}
