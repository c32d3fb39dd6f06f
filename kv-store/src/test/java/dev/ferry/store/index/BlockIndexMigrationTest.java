package dev.ferry.store.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import net.openhft.chronicle.map.ChronicleMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A data directory of an earlier build: its index of 8-byte keys is migrated once, or refused by name. */
class BlockIndexMigrationTest {
    @TempDir
    Path dir;

    /** Writes the index file of the earlier build: Long keys, 20-byte little-endian values. */
    private Path legacyIndex(long... keys) throws IOException {
        Path file = dir.resolve(BlockIndex.LEGACY_FILE);
        try (ChronicleMap<Long, byte[]> old = ChronicleMap.of(Long.class, byte[].class).name("ferry-block-index")
                .entries(1024).constantValueSizeBySample(new byte[20]).createPersistedTo(file.toFile())) {
            for (long k : keys) {
                old.put(k, ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(k * 4096).putLong(4096)
                        .putInt((int) k + 100).array());
            }
        }
        return file;
    }

    @Test
    void anIndexOfEightByteKeysIsMigratedOnceAndReadAsNarrowKeys() throws IOException {
        Path legacy = legacyIndex(1, 2, -5);
        try (BlockIndex index = BlockIndex.openIn(dir, 1000)) {
            assertThat(index.file()).isEqualTo(dir.resolve(BlockIndex.FILE));
            assertThat(index.entries()).containsExactlyInAnyOrder(
                    new IndexedBlock(BlockKey.of(1), 4096, 4096, 101),
                    new IndexedBlock(BlockKey.of(2), 8192, 4096, 102),
                    new IndexedBlock(BlockKey.of(-5), -5 * 4096, 4096, 95));
            index.remove(BlockKey.of(2));
            index.put(new IndexedBlock(new BlockKey(9, 1), 0, 1, 7));
        }
        assertThat(legacy).doesNotExist();
        assertThat(dir.resolve(BlockIndex.FILE + ".migrating")).doesNotExist();
        try (BlockIndex index = BlockIndex.openIn(dir, 1000)) {
            assertThat(index.entries()).containsExactlyInAnyOrder(
                    new IndexedBlock(BlockKey.of(1), 4096, 4096, 101),
                    new IndexedBlock(BlockKey.of(-5), -5 * 4096, 4096, 95),
                    new IndexedBlock(new BlockKey(9, 1), 0, 1, 7));
        }
    }

    @Test
    void aMigrationCutShortIsDoneAgainFromTheOldFile() throws IOException {
        legacyIndex(3);
        Files.write(dir.resolve(BlockIndex.FILE + ".migrating"), new byte[] {1, 2, 3}); // a killed migration's leftover
        try (BlockIndex index = BlockIndex.openIn(dir, 1000)) {
            assertThat(index.entries()).containsExactly(new IndexedBlock(BlockKey.of(3), 3 * 4096, 4096, 103));
        }
        assertThat(dir.resolve(BlockIndex.FILE + ".migrating")).doesNotExist();
    }

    @Test
    void anUnreadableOldIndexIsRefusedNamingTheFileAndWhatToDo() throws IOException {
        Path legacy = dir.resolve(BlockIndex.LEGACY_FILE);
        Files.write(legacy, new byte[4096]); // not a Chronicle Map
        assertThatThrownBy(() -> BlockIndex.openIn(dir, 1000)).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("cannot migrate block index " + legacy)
                .hasMessageContaining("8-byte keys")
                .hasMessageContaining("delete " + legacy);
        assertThat(legacy).exists(); // nothing lost
        assertThat(dir.resolve(BlockIndex.FILE)).doesNotExist();
    }
}
