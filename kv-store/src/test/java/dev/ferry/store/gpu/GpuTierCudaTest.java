package dev.ferry.store.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.nativemem.MachineInfo;
import dev.ferry.nativemem.device.CudaDeviceMemory;
import dev.ferry.nativemem.device.DeviceMemory;
import dev.ferry.nativemem.device.DevicePool;
import dev.ferry.nativemem.device.DeviceUnavailableException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GpuTier} on a real GPU, from a registered DRAM slab; skipped where CUDA is absent. */
@Tag("gpu")
class GpuTierCudaTest {
    private static final long BLOCK = 1 << 20;

    @Test
    void putReadCopyDownAndHitOnTheDeviceKeepEveryByte() {
        assumeTrue(MachineInfo.probe().cudaDriver(), "no CUDA driver on this machine");
        DeviceMemory memory;
        try {
            memory = CudaDeviceMemory.open(0);
        } catch (DeviceUnavailableException e) {
            assumeTrue(false, e.getMessage());
            return;
        }
        try (Arena arena = Arena.ofShared(); memory; GpuTier<Long> tier = new GpuTier<>(memory, 8 * BLOCK);
             DevicePool engine = memory.allocate(BLOCK)) {
            MemorySegment slab = arena.allocate(4 * BLOCK, 4096);
            tier.registerDram(slab);
            MemorySegment in = slab.asSlice(0, BLOCK);
            for (long i = 0; i < BLOCK; i++) {
                in.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 13 + 1));
            }
            tier.put(1L, in).await();
            tier.read(1L, slab.asSlice(BLOCK, BLOCK)).orElseThrow().await();
            assertThat(slab.asSlice(BLOCK, BLOCK).mismatch(in)).isEqualTo(-1);

            tier.copyDown(1L, slab.asSlice(2 * BLOCK, BLOCK)).await();
            tier.await(1L);
            assertThat(slab.asSlice(2 * BLOCK, BLOCK).mismatch(in)).isEqualTo(-1);
            assertThat(tier.block(1L).orElseThrow().copiedDown()).isTrue();

            tier.readToDevice(1L, engine, 0).orElseThrow().await();
            engine.copyOut(0, slab.asSlice(3 * BLOCK, BLOCK));
            assertThat(slab.asSlice(3 * BLOCK, BLOCK).mismatch(in)).isEqualTo(-1);
            assertThat(tier.evict(1L)).isEqualTo(GpuTier.Eviction.EVICTED);
            assertThat(tier.counters().failedCopies()).isZero();
        }
    }

    @Test
    void batchedPutsAndReadsKeepEveryByteAndTheMeasuredChoiceLeavesTheTierEmpty() {
        assumeTrue(MachineInfo.probe().cudaDriver(), "no CUDA driver on this machine");
        DeviceMemory memory;
        try {
            memory = CudaDeviceMemory.open(0);
        } catch (DeviceUnavailableException e) {
            assumeTrue(false, e.getMessage());
            return;
        }
        long small = 64 * 1024;
        int n = 16;
        try (Arena arena = Arena.ofShared(); memory; GpuTier<Long> tier = new GpuTier<>(memory, 64L << 20)) {
            CopyBatching measured = CopyBatching.measure(tier, i -> (long) -1 - i);
            assertThat(measured.minBlocks()).hasSize(CopyBatching.SIZES.length);
            assertThat(tier.size()).isZero();
            assertThat(tier.freeBytes()).isEqualTo(tier.capacityBytes());

            MemorySegment slab = arena.allocate(2 * n * small, 4096);
            tier.registerDram(slab);
            MemorySegment in = slab.asSlice(0, n * small);
            for (long i = 0; i < in.byteSize(); i++) {
                in.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 29 + 3));
            }
            java.util.List<Long> keys = new java.util.ArrayList<>();
            long[] lengths = new long[n];
            for (int i = 0; i < n; i++) {
                keys.add((long) i);
                lengths[i] = small;
            }
            tier.putBatched(keys, in, lengths).orElseThrow().await();
            tier.await((long) n - 1);
            MemorySegment out = slab.asSlice(n * small, n * small);
            tier.readBatched(keys.reversed(), out).orElseThrow().await();
            tier.await(0L);
            for (int i = 0; i < n; i++) {
                assertThat(out.asSlice((long) (n - 1 - i) * small, small).mismatch(in.asSlice((long) i * small, small)))
                        .as("block %d", i).isEqualTo(-1);
            }
            assertThat(tier.counters().batches()).isEqualTo(2);
            assertThat(tier.counters().failedCopies()).isZero();
        }
    }
}
