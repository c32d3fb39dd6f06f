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

    @Test
    void bothFormsAnswerAlike() {
        try (BlockIndex persisted = BlockIndex.open(dir.resolve("alike.cmap"), 1000);
             BlockIndex heap = BlockIndex.inMemory(1000)) {
            for (BlockIndex index : new BlockIndex[] {persisted, heap}) {
                index.put(new IndexedBlock(BlockKey.of(1), 0, 4096, 11));
                index.put(new IndexedBlock(BlockKey.of(2), 4096, 100, -7));
                index.put(new IndexedBlock(new BlockKey(5, 2), 8192, 1, 3)); // same low word, another key
                index.remove(BlockKey.of(1), 4096); // the entry says 0: kept
                index.remove(BlockKey.of(2), 4096); // removed
                index.remove(BlockKey.of(99));
                assertThat(index.entries()).as(index.file() == null ? "heap" : "persisted").containsExactlyInAnyOrder(
                        new IndexedBlock(BlockKey.of(1), 0, 4096, 11), new IndexedBlock(new BlockKey(5, 2), 8192, 1, 3));
                assertThat(index.size()).isEqualTo(2);
                index.clear();
                assertThat(index.entries()).isEmpty();
            }
            assertThat(heap.file()).isNull();
        }
    }
}
