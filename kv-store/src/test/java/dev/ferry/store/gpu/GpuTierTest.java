package dev.ferry.store.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.nativemem.device.CopyCompletion;
import dev.ferry.nativemem.device.DeviceException;
import dev.ferry.nativemem.device.DeviceMemory;
import dev.ferry.nativemem.device.DeviceOutOfMemoryException;
import dev.ferry.nativemem.device.DevicePool;
import dev.ferry.nativemem.device.HostDeviceMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link GpuTier} on host memory standing in for a GPU: placement, reads, copies down, eviction, failures. */
class GpuTierTest {
    private static final long BLOCK = 16 * 1024;

    private final Arena arena = Arena.ofShared();

    @AfterEach
    void freeHostMemory() {
        arena.close();
    }

    private MemorySegment block(int seed) {
        MemorySegment bytes = arena.allocate(BLOCK, 4096);
        for (long i = 0; i < BLOCK; i++) {
            bytes.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + seed));
        }
        return bytes;
    }

    @Test
    void aPutBlockReadsBackTheSameBytes() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<String> tier = new GpuTier<>(memory, 4 * BLOCK)) {
            MemorySegment in = block(1);
            tier.put("a", in).await();
            tier.await("a");
            assertThat(tier.block("a")).hasValueSatisfying(b -> {
                assertThat(b.readable()).isTrue();
                assertThat(b.length()).isEqualTo(BLOCK);
                assertThat(b.copiedDown()).isFalse();
            });
            MemorySegment out = arena.allocate(BLOCK, 4096);
            tier.read("a", out).orElseThrow().await();
            assertThat(out.mismatch(in)).isEqualTo(-1);
            assertThat(tier.read("missing", out)).isEmpty();
            assertThat(tier.counters()).isEqualTo(new GpuTierCounters(1, 1, 0, 0, 0, 0));
            assertThatThrownBy(() -> tier.read("a", arena.allocate(BLOCK - 1)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("holds 16384 bytes");
        }
    }

    @Test
    void batchedPutsAndReadsMoveEveryBlockThroughAScratchRangeThatIsFreedAfterwards() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<String> tier = new GpuTier<>(memory, 8 * BLOCK)) {
            MemorySegment run = arena.allocate(3 * BLOCK, 4096);
            for (int i = 0; i < 3; i++) {
                run.asSlice(i * BLOCK, BLOCK).copyFrom(block(i + 1));
            }
            tier.putBatched(java.util.List.of("a", "b", "c"), run, new long[] {BLOCK, BLOCK, BLOCK}).orElseThrow().await();
            tier.await("c");
            assertThat(tier.freeBytes()).as("the scratch range is free again").isEqualTo(5 * BLOCK);
            MemorySegment one = arena.allocate(BLOCK, 4096);
            tier.read("b", one).orElseThrow().await();
            assertThat(one.mismatch(block(2))).isEqualTo(-1);

            MemorySegment back = arena.allocate(2 * BLOCK, 4096);
            tier.readBatched(java.util.List.of("c", "a"), back).orElseThrow().await();
            tier.await("a");
            assertThat(back.asSlice(0, BLOCK).mismatch(block(3))).isEqualTo(-1);
            assertThat(back.asSlice(BLOCK, BLOCK).mismatch(block(1))).isEqualTo(-1);
            assertThat(tier.freeBytes()).isEqualTo(5 * BLOCK);
            assertThat(tier.counters().batches()).isEqualTo(2);
            assertThat(tier.counters().puts()).isEqualTo(3);
            assertThat(tier.counters().reads()).isEqualTo(3);

            assertThat(tier.readBatched(java.util.List.of("a", "missing"), back)).as("a block not held").isEmpty();
            assertThatThrownBy(() -> tier.putBatched(java.util.List.of("a"), one, new long[] {BLOCK}))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("holds a already");
        }
    }

    @Test
    void aBatchedPutWithoutRoomForItsScratchRangeChangesNothing() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<String> tier = new GpuTier<>(memory, 3 * BLOCK)) {
            MemorySegment run = arena.allocate(2 * BLOCK, 4096);
            assertThat(tier.putBatched(java.util.List.of("a", "b"), run, new long[] {BLOCK, BLOCK})).isEmpty();
            assertThat(tier.size()).isZero();
            assertThat(tier.freeBytes()).isEqualTo(3 * BLOCK);
            tier.put("a", run.asSlice(0, BLOCK)).await();
            tier.put("b", run.asSlice(BLOCK, BLOCK)).await();
            tier.await("b");
            assertThat(tier.readBatched(java.util.List.of("a", "b"), run)).as("no room for the scratch").isEmpty();
            assertThat(tier.freeBytes()).isEqualTo(BLOCK);
        }
    }

    @Test
    void aBlockIsNotReadableNorEvictableWhileItsPutIsInFlight() throws InterruptedException {
        GatedDeviceMemory memory = new GatedDeviceMemory(1 << 20);
        try (memory; GpuTier<String> tier = new GpuTier<>(memory, 4 * BLOCK)) {
            memory.hold();
            CopyCompletion put = tier.put("a", block(2));
            MemorySegment out = arena.allocate(BLOCK, 4096);
            assertThat(tier.block("a")).hasValueSatisfying(b -> assertThat(b.readable()).isFalse());
            assertThat(tier.read("a", out)).as("no read of a loading block").isEmpty();
            assertThat(tier.evict("a")).isEqualTo(GpuTier.Eviction.BUSY);
            assertThatThrownBy(() -> tier.copyDown("a", out)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> tier.put("a", block(3))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("holds a already");
            memory.open();
            put.await();
            assertThat(tier.block("a")).hasValueSatisfying(b -> assertThat(b.readable()).isTrue());
            assertThat(tier.evict("a")).isEqualTo(GpuTier.Eviction.EVICTED);
            assertThat(tier.evict("a")).isEqualTo(GpuTier.Eviction.ABSENT);
        }
    }

    @Test
    void aRangeBeingReadIsNotFreedUntilTheReadCompletes() throws InterruptedException {
        GatedDeviceMemory memory = new GatedDeviceMemory(1 << 20);
        try (memory; GpuTier<String> tier = new GpuTier<>(memory, 4 * BLOCK)) {
            MemorySegment in = block(4);
            tier.put("a", in).await();
            memory.hold();
            MemorySegment out = arena.allocate(BLOCK, 4096);
            CopyCompletion read = tier.read("a", out).orElseThrow();
            assertThat(tier.evict("a")).isEqualTo(GpuTier.Eviction.BUSY);
            assertThat(tier.evictable()).isEmpty();
            assertThat(tier.freeBytes()).isEqualTo(3 * BLOCK);
            memory.open();
            read.await();
            assertThat(out.mismatch(in)).isEqualTo(-1);
            assertThat(tier.evict("a")).isEqualTo(GpuTier.Eviction.EVICTED);
            assertThat(tier.freeBytes()).isEqualTo(4 * BLOCK);
        }
    }

    @Test
    void aHitForTheEngineIsACopyWithinTheDevice() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<String> tier = new GpuTier<>(memory, 4 * BLOCK);
             DevicePool engine = memory.allocate(2 * BLOCK)) {
            MemorySegment in = block(6);
            tier.put("a", in).await();
            tier.readToDevice("a", engine, BLOCK).orElseThrow().await();
            MemorySegment out = arena.allocate(BLOCK, 4096);
            engine.copyOut(BLOCK, out);
            assertThat(out.mismatch(in)).isEqualTo(-1);
            assertThat(tier.readToDevice("missing", engine, 0)).isEmpty();
            assertThatThrownBy(() -> tier.readToDevice("a", engine, BLOCK + 1))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(tier.counters().reads()).isEqualTo(1);
        }
    }

    @Test
    void aCopyDownLandsInTheDramRangeAndMarksTheBlockCopiedDown() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<Long> tier = new GpuTier<>(memory, 4 * BLOCK)) {
            MemorySegment slab = arena.allocate(4 * BLOCK, 4096);
            tier.registerDram(slab);
            MemorySegment in = block(5);
            tier.put(7L, in).await();
            tier.copyDown(7L, slab.asSlice(2 * BLOCK, BLOCK)).await();
            tier.await(7L);
            assertThat(slab.asSlice(2 * BLOCK, BLOCK).mismatch(in)).isEqualTo(-1);
            assertThat(tier.block(7L)).hasValueSatisfying(b -> assertThat(b.copiedDown()).isTrue());
            assertThat(tier.counters().copiesDown()).isEqualTo(1);
        }
    }

    @Test
    void evictableListsCopiedDownBlocksFirstThenTheColdest() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<String> tier = new GpuTier<>(memory, 8 * BLOCK)) {
            MemorySegment out = arena.allocate(BLOCK, 4096);
            for (String key : new String[]{"a", "b", "c", "d"}) {
                tier.put(key, block(key.charAt(0)));
                tier.await(key);
            }
            tier.read("a", out).orElseThrow().await(); // a becomes the most recently used
            tier.copyDown("c", out).await();
            tier.await("c");
            assertThat(tier.evictable()).containsExactly("c", "b", "d", "a");
        }
    }

    @Test
    void aFullTierRefusesAPutAndChangesNothing() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<String> tier = new GpuTier<>(memory, 2 * BLOCK)) {
            tier.put("a", block(1));
            tier.put("b", block(2));
            assertThatThrownBy(() -> tier.put("c", block(3))).isInstanceOf(GpuTierFullException.class)
                    .hasMessage("GPU tier full: a block needs 16384 bytes, 0 bytes free, largest free range 0 bytes");
            assertThat(tier.size()).isEqualTo(2);
            tier.await("a");
            assertThat(tier.evict("a")).isEqualTo(GpuTier.Eviction.EVICTED);
            tier.put("c", block(3)).await();
            assertThat(tier.block("c")).isPresent();
        }
    }

    @Test
    void aPutWhoseCopyFailsLeavesNoBlockAndIsCounted() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<String> tier = new GpuTier<>(memory, 2 * BLOCK)) {
            Arena gone = Arena.ofShared();
            MemorySegment freed = gone.allocate(BLOCK, 4096);
            gone.close(); // the copy runs on the stream's thread and finds the memory freed
            tier.put("a", freed);
            assertThatThrownBy(() -> tier.await("a")).isInstanceOf(DeviceException.class);
            assertThat(tier.block("a")).isEmpty();
            assertThat(tier.freeBytes()).isEqualTo(2 * BLOCK);
            assertThat(tier.counters().failedCopies()).isEqualTo(1);
        }
    }

    @Test
    void aBatchedPutWhoseCopyFailsLeavesNoBlockFreesItsScratchAndCountsEachBlock() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20); GpuTier<String> tier = new GpuTier<>(memory, 8 * BLOCK)) {
            Arena gone = Arena.ofShared();
            MemorySegment freed = gone.allocate(2 * BLOCK, 4096);
            gone.close(); // the copy to the device runs on the stream's thread and finds the memory freed
            CopyCompletion put = tier.putBatched(java.util.List.of("a", "b"), freed, new long[] {BLOCK, BLOCK})
                    .orElseThrow();
            assertThatThrownBy(put::await).isInstanceOf(DeviceException.class);
            assertThatThrownBy(() -> tier.await("a")).isInstanceOf(DeviceException.class); // settles "b" too
            assertThat(tier.block("a")).isEmpty();
            assertThat(tier.block("b")).isEmpty();
            assertThat(tier.freeBytes()).as("blocks and scratch freed").isEqualTo(8 * BLOCK);
            assertThat(tier.counters().failedCopies()).isEqualTo(2);
        }
    }

    @Test
    void aTierBeyondTheDeviceAndUseAfterCloseFailClearly() {
        try (DeviceMemory memory = new HostDeviceMemory(1 << 20)) {
            assertThatThrownBy(() -> new GpuTier<String>(memory, 2 << 20)).isInstanceOf(DeviceOutOfMemoryException.class);
            assertThatThrownBy(() -> new GpuTier<String>(memory, 100)).isInstanceOf(IllegalArgumentException.class);
            GpuTier<String> tier = new GpuTier<>(memory, 1 << 20);
            tier.put("a", block(1));
            tier.close();
            tier.close();
            assertThat(memory.freeBytes()).as("the pool went back to the device").isEqualTo(1 << 20);
            assertThatThrownBy(() -> tier.put("b", block(2))).isInstanceOf(IllegalStateException.class)
                    .hasMessage("GPU tier is closed");
            assertThatThrownBy(() -> tier.read("a", block(3))).isInstanceOf(IllegalStateException.class);
        }
    }
}
