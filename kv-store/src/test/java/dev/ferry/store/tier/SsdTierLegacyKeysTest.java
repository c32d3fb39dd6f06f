package dev.ferry.store.tier;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/** An SSD tier written by an earlier build (8-byte RocksDB keys) is read as narrow keys and rewritten once. */
class SsdTierLegacyKeysTest {
    private static final long BLOCK = 64 * 1024;

    @TempDir
    Path dir;

    private static MemorySegment block(Arena arena, long key) {
        MemorySegment s = arena.allocate(BLOCK, 4096);
        BlockContent.fill(key, s);
        return s;
    }

    /** Moves every entry to the 8-byte key an earlier build wrote (the 64-bit key, big-endian). */
    private void rewriteAsEarlierBuild() throws RocksDBException {
        try (SsdRocksDb raw = SsdRocksDb.open(dir, 4L << 20)) {
            for (BlockKey key : keysIn(raw)) {
                byte[] wide = MetaRecord.key(key);
                byte[] narrow = ByteBuffer.allocate(8).putLong(key.narrow()).array();
                raw.db().put(raw.blocks(), narrow, raw.db().get(raw.blocks(), wide));
                raw.db().put(raw.meta(), narrow, raw.db().get(raw.meta(), wide));
                raw.db().delete(raw.blocks(), wide);
                raw.db().delete(raw.meta(), wide);
            }
            assertThat(rawKeyLengths(raw)).containsOnly(8);
        }
    }

    private static List<BlockKey> keysIn(SsdRocksDb raw) {
        List<BlockKey> keys = new ArrayList<>();
        try (RocksIterator it = raw.db().newIterator(raw.meta())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                keys.add(MetaRecord.key(it.key()));
            }
        }
        return keys;
    }

    private static List<Integer> rawKeyLengths(SsdRocksDb raw) {
        List<Integer> lengths = new ArrayList<>();
        for (var cf : List.of(raw.blocks(), raw.meta())) {
            try (RocksIterator it = raw.db().newIterator(cf)) {
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    lengths.add(it.key().length);
                }
            }
        }
        return lengths;
    }

    @Test
    void blocksUnderEightByteKeysAreReadAsNarrowKeysAndRewrittenOnOpen() throws RocksDBException {
        try (Arena arena = Arena.ofShared()) {
            try (SsdTier tier = SsdTier.open(dir, 16 * BLOCK, new LruPolicy(), 2)) {
                for (long k : new long[] {1, 2, -3}) {
                    MemorySegment b = block(arena, k);
                    tier.put(BlockKey.of(k), b, BlockContent.crc32c(b)).join();
                }
            }
            rewriteAsEarlierBuild();

            try (SsdTier tier = SsdTier.open(dir, 16 * BLOCK, new LruPolicy(), 2)) {
                assertThat(tier.blocks()).isEqualTo(3);
                assertThat(tier.keys()).containsExactlyInAnyOrder(BlockKey.ofAll(1, 2, -3));
                for (long k : new long[] {1, 2, -3}) {
                    MemorySegment dst = arena.allocate(BLOCK, 4096);
                    assertThat(tier.get(BlockKey.of(k), dst).join()).isEqualTo(BLOCK);
                    assertThat(BlockContent.firstMismatch(k, dst)).isEqualTo(-1);
                }
                // The migrated keys are the tier's own: a removal leaves no copy under another key.
                assertThat(tier.remove(BlockKey.of(2))).isTrue();
                assertThat(tier.corruptBlocks()).isZero();
            }
            try (SsdRocksDb raw = SsdRocksDb.open(dir, 4L << 20)) {
                assertThat(rawKeyLengths(raw)).hasSize(4).containsOnly(16);
                assertThat(keysIn(raw)).containsExactlyInAnyOrder(BlockKey.ofAll(1, -3));
            }
        }
    }
}
