package dev.ferry.store.index;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.index.IndexedBlock;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlockIndexTest {
    @TempDir
    Path dir;

    @Test
    void entriesSurviveCloseAndReopen() {
        Path file = dir.resolve("index.cmap");
        try (BlockIndex index = BlockIndex.open(file, 1000)) {
            index.put(new IndexedBlock(BlockKey.of(1), 0, 4096, 11));
            index.put(new IndexedBlock(BlockKey.of(2), 4096, 100, -7));
            index.put(new IndexedBlock(BlockKey.of(3), 8192, 1, 0));
            index.remove(BlockKey.of(3));
            index.remove(BlockKey.of(99));
            index.put(new IndexedBlock(BlockKey.of(1), 12288, 4096, 12)); // re-put at another offset replaces
        }
        try (BlockIndex index = BlockIndex.open(file, 1000)) {
            assertThat(index.entries()).containsExactlyInAnyOrder(
                    new IndexedBlock(BlockKey.of(1), 12288, 4096, 12), new IndexedBlock(BlockKey.of(2), 4096, 100, -7));
            index.clear();
            assertThat(index.size()).isZero();
        }
    }
}
