package dev.ferry.store.tier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.eviction.EvictionPolicy;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SSD tier on a real file system that fills up (a small tmpfs, so this needs root): a
 * full disk is a state of its own, named in the error, refused at once, and left when space
 * comes back.
 */
class SsdTierFullDiskTest {
    private static final long BLOCK = 64 * 1024;

    @TempDir
    Path dir;

    @Test
    void aFullDiskIsNamedRefusesWritesAtOnceKeepsReadsAndRecoversWhenSpaceComesBack() throws Exception {
        try (TmpfsMount disk = TmpfsMount.mount(dir.resolve("disk"), 12L << 20); Arena arena = Arena.ofShared()) {
            Path filler = disk.dir().resolve("filler");
            Files.write(filler, new byte[6 << 20]);
            // A tier told it has 32 MiB on a disk with 6 MiB free.
            try (SsdTier tier = SsdTier.open(new SsdTier.Context().directory(disk.dir().resolve("tier"))
                    .diskBytes(32L << 20).policy(EvictionPolicy.byName("lru")).ioThreads(2))) {
                MemorySegment bytes = arena.allocate(BLOCK, 4096);
                Throwable refused = null;
                long stored = 0;
                for (long key = 1; refused == null && key <= 1000; key++) {
                    BlockContent.fill(key, bytes);
                    try {
                        tier.put(BlockKey.of(key), bytes, BlockContent.crc32c(bytes)).join();
                        stored = key;
                    } catch (CompletionException e) {
                        refused = e.getCause();
                    }
                }
                assertThat(refused).isInstanceOf(SsdUnwritableException.class)
                        .hasMessageContaining("SSD full").hasMessageContaining("No space left on device");
                assertThat(((SsdUnwritableException) refused).health()).isEqualTo(SsdHealth.FULL);
                assertThat(stored).as("blocks stored before the disk filled").isPositive();
                assertThat(tier.health()).isEqualTo(SsdHealth.FULL);

                BlockContent.fill(5000, bytes);
                assertThat(cause(tier.put(BlockKey.of(5000), bytes, BlockContent.crc32c(bytes))))
                        .isInstanceOf(SsdUnwritableException.class).hasMessageContaining("SSD full");
                assertThat(tier.contains(BlockKey.of(5000))).isFalse();
                MemorySegment dst = arena.allocate(BLOCK);
                assertThat(tier.get(BlockKey.of(1), dst).join()).isEqualTo(BLOCK);
                assertThat(BlockContent.firstMismatch(1, dst)).isEqualTo(-1);

                Files.delete(filler);
                await().atMost(Duration.ofSeconds(20)).until(() -> tier.health() == SsdHealth.OK);
                BlockContent.fill(5001, bytes);
                tier.put(BlockKey.of(5001), bytes, BlockContent.crc32c(bytes)).join();
                assertThat(tier.get(BlockKey.of(5001), dst).join()).isEqualTo(BLOCK);
                assertThat(BlockContent.firstMismatch(5001, dst)).isEqualTo(-1);
                assertThat(tier.get(BlockKey.of(stored), dst).join()).isEqualTo(BLOCK);
                assertThat(BlockContent.firstMismatch(stored, dst)).isEqualTo(-1);
            }
        }
    }

    @Test
    void aDiskSizeCountsRocksDbsReserveAndOneTooSmallIsRefusedClearly() {
        try (SsdTier tier = SsdTier.open(new SsdTier.Context().directory(dir).diskBytes(32L << 20)
                .policy(EvictionPolicy.byName("lru")))) {
            // 1/16 of the disk as write buffer (2 MiB); WAL and a flushing memtable reserved.
            assertThat(tier.capacityBytes()).isEqualTo((32L << 20) - SsdRocksDb.reserveBytes(2L << 20));
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> SsdTier.open(new SsdTier.Context().directory(dir)
                        .diskBytes(2L << 20).policy(EvictionPolicy.byName("lru"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaves no room for blocks");
    }

    private static Throwable cause(java.util.concurrent.CompletableFuture<?> f) {
        try {
            f.join();
        } catch (CompletionException e) {
            return e.getCause();
        }
        throw new AssertionError("expected the future to fail");
    }
}
