package dev.ferry.nativemem.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What every {@link DeviceMemory} does; each implementation's test extends it. */
abstract class DeviceMemoryContract {
    static final int KIB = 1024;

    DeviceMemory memory;
    Arena arena;

    /** Opens the implementation under test, or skips the test (JUnit assumption) where it cannot exist. */
    abstract DeviceMemory open();

    @BeforeEach
    void openMemory() {
        memory = open();
        arena = Arena.ofShared();
    }

    @AfterEach
    void closeMemory() {
        try {
            if (memory != null) {
                memory.close();
            }
        } finally {
            if (arena != null) {
                arena.close();
            }
        }
    }

    MemorySegment pattern(long bytes, int seed) {
        MemorySegment host = arena.allocate(bytes, 4096);
        for (long i = 0; i < bytes; i++) {
            host.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + seed));
        }
        return host;
    }

    @Test
    void copiesInAndOutSynchronously() {
        try (DevicePool pool = memory.allocate(256 * KIB)) {
            MemorySegment in = pattern(64 * KIB, 7);
            pool.copyIn(128 * KIB, in);
            MemorySegment out = arena.allocate(64 * KIB, 4096);
            pool.copyOut(128 * KIB, out);
            assertThat(out.mismatch(in)).isEqualTo(-1);
        }
    }

    @Test
    void asynchronousCopiesCompleteInStreamOrder() {
        try (DevicePool pool = memory.allocate(64 * KIB); DeviceStream stream = memory.openStream()) {
            List<MemorySegment> versions = new ArrayList<>();
            for (int v = 0; v < 8; v++) {
                versions.add(pattern(64 * KIB, v));
            }
            CopyCompletion last = null;
            for (MemorySegment version : versions) {
                last = pool.copyInAsync(0, version, stream); // same range: only the order decides what stays
            }
            MemorySegment out = arena.allocate(64 * KIB, 4096);
            CopyCompletion read = pool.copyOutAsync(0, out, stream);
            read.await();
            assertThat(last.isDone()).isTrue();
            assertThat(read.isDone()).isTrue();
            assertThat(out.mismatch(versions.getLast())).isEqualTo(-1);
        }
    }

    @Test
    void streamSynchronizeWaitsForEveryQueuedCopy() {
        try (DevicePool pool = memory.allocate(64 * KIB); DeviceStream stream = memory.openStream()) {
            MemorySegment in = pattern(64 * KIB, 3);
            pool.copyInAsync(0, in, stream);
            MemorySegment out = arena.allocate(64 * KIB, 4096);
            CopyCompletion read = pool.copyOutAsync(0, out, stream);
            stream.synchronize();
            assertThat(read.isDone()).isTrue();
            assertThat(out.mismatch(in)).isEqualTo(-1);
        }
    }

    @Test
    void copiesWithinTheDeviceBetweenPools() {
        try (DevicePool a = memory.allocate(64 * KIB); DevicePool b = memory.allocate(64 * KIB);
             DeviceStream stream = memory.openStream()) {
            MemorySegment in = pattern(16 * KIB, 5);
            a.copyIn(4 * KIB, in);
            a.copyTo(4 * KIB, b, 32 * KIB, 16 * KIB);
            MemorySegment out = arena.allocate(16 * KIB, 4096);
            b.copyOut(32 * KIB, out);
            assertThat(out.mismatch(in)).isEqualTo(-1);

            a.copyToAsync(4 * KIB, b, 0, 16 * KIB, stream).await();
            MemorySegment out2 = arena.allocate(16 * KIB, 4096);
            b.copyOut(0, out2);
            assertThat(out2.mismatch(in)).isEqualTo(-1);
        }
    }

    @Test
    void gathersBlocksIntoOneHostRangeAndScattersThemBack() {
        try (DevicePool pool = memory.allocate(64 * KIB); DeviceStream stream = memory.openStream()) {
            MemorySegment blocks = pattern(12 * KIB, 9);
            long[] offsets = {40 * KIB, 0, 20 * KIB};
            long[] lengths = {4 * KIB, 4 * KIB, 4 * KIB};
            pool.scatterInAsync(blocks, offsets, lengths, stream).await();
            MemorySegment second = arena.allocate(4 * KIB, 4096);
            pool.copyOut(0, second);
            assertThat(second.mismatch(blocks.asSlice(4 * KIB, 4 * KIB))).isEqualTo(-1);

            MemorySegment gathered = arena.allocate(12 * KIB, 4096);
            pool.gatherOutAsync(offsets, lengths, gathered, stream).await();
            assertThat(gathered.mismatch(blocks)).isEqualTo(-1);
        }
    }

    @Test
    void batchedGatherAndScatterMoveEveryBlockThroughOneScratchRange() {
        try (DevicePool pool = memory.allocate(128 * KIB); DeviceStream stream = memory.openStream()) {
            MemorySegment blocks = pattern(12 * KIB, 11);
            long[] offsets = {40 * KIB, 0, 20 * KIB};
            long[] lengths = {4 * KIB, 4 * KIB, 4 * KIB};
            pool.scatterInBatchedAsync(blocks, offsets, lengths, 64 * KIB, stream).await();
            for (int i = 0; i < 3; i++) {
                MemorySegment one = arena.allocate(4 * KIB, 4096);
                pool.copyOut(offsets[i], one);
                assertThat(one.mismatch(blocks.asSlice(i * 4L * KIB, 4 * KIB))).as("block %d", i).isEqualTo(-1);
            }

            long[] reversed = {20 * KIB, 0, 40 * KIB};
            MemorySegment gathered = arena.allocate(12 * KIB, 4096);
            pool.gatherOutBatchedAsync(reversed, lengths, gathered, 100 * KIB, stream).await();
            assertThat(gathered.asSlice(0, 4 * KIB).mismatch(blocks.asSlice(8 * KIB, 4 * KIB))).isEqualTo(-1);
            assertThat(gathered.asSlice(4 * KIB, 4 * KIB).mismatch(blocks.asSlice(4 * KIB, 4 * KIB))).isEqualTo(-1);
            assertThat(gathered.asSlice(8 * KIB, 4 * KIB).mismatch(blocks.asSlice(0, 4 * KIB))).isEqualTo(-1);
        }
    }

    @Test
    void refusesABatchedCopyWhoseScratchRangeOverlapsABlockOrLeavesThePool() {
        try (DevicePool pool = memory.allocate(64 * KIB); DeviceStream stream = memory.openStream()) {
            MemorySegment host = arena.allocate(8 * KIB, 4096);
            long[] offsets = {0, 16 * KIB};
            long[] lengths = {4 * KIB, 4 * KIB};
            assertThatThrownBy(() -> pool.gatherOutBatchedAsync(offsets, lengths, host, 14 * KIB, stream))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps block [16384, 20480)");
            assertThatThrownBy(() -> pool.scatterInBatchedAsync(host, offsets, lengths, 60 * KIB, stream))
                    .isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void refusesCopiesThatLeaveThePool() {
        try (DevicePool pool = memory.allocate(64 * KIB); DeviceStream stream = memory.openStream()) {
            MemorySegment host = arena.allocate(8 * KIB, 4096);
            assertThatThrownBy(() -> pool.copyIn(60 * KIB, host)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("leaves the pool of 65536 bytes");
            assertThatThrownBy(() -> pool.copyOut(-1, host)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> pool.copyOutAsync(Long.MAX_VALUE, host, stream))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> pool.copyTo(0, pool, 60 * KIB, 8 * KIB)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> pool.gatherOutAsync(new long[]{0, 64 * KIB}, new long[]{4 * KIB, 4 * KIB},
                    host, stream)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> pool.gatherOutAsync(new long[]{0}, new long[]{4 * KIB}, host, stream))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("host range 8192");
        }
    }

    @Test
    void refusesHeapMemoryAndStreamsOfAnotherDeviceMemory() {
        try (DevicePool pool = memory.allocate(64 * KIB); HostDeviceMemory other = new HostDeviceMemory(KIB);
             DeviceStream foreign = other.openStream()) {
            assertThatThrownBy(() -> pool.copyIn(0, MemorySegment.ofArray(new byte[16])))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("native");
            MemorySegment host = arena.allocate(KIB, 4096);
            assertThatThrownBy(() -> pool.copyInAsync(0, host, foreign)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("another device memory");
        }
    }

    @Test
    void aPoolBeyondTheDeviceThrowsAndAllocatesNothing() {
        long free = memory.freeBytes();
        assertThatThrownBy(() -> memory.allocate(free + (1L << 40))).isInstanceOf(DeviceOutOfMemoryException.class)
                .hasMessageContaining("cannot allocate a pool");
        try (DevicePool pool = memory.allocate(64 * KIB)) {
            assertThat(pool.bytes()).isEqualTo(64 * KIB);
        }
        assertThatThrownBy(() -> memory.allocate(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void everyUseAfterCloseThrows() {
        DevicePool pool = memory.allocate(64 * KIB);
        DeviceStream stream = memory.openStream();
        MemorySegment host = arena.allocate(KIB, 4096);
        CopyCompletion queued = pool.copyInAsync(0, host, stream);
        stream.close(); // waits for what was queued
        assertThat(queued.isDone()).as("a copy its closed stream waited for").isTrue();
        queued.await();
        pool.close();
        pool.close();
        assertThatThrownBy(() -> pool.copyIn(0, host)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        stream.close();
        DevicePool other = memory.allocate(64 * KIB);
        assertThatThrownBy(() -> other.copyInAsync(0, host, stream)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("stream is closed");
        memory.close();
        assertThat(other.isClosed()).as("closing the device memory closes its pools").isTrue();
        assertThatThrownBy(() -> other.copyOut(0, host)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> memory.allocate(KIB)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(memory::openStream).isInstanceOf(IllegalStateException.class);
        memory.close();
    }

    @Test
    void registersAHostRangeUntilClosed() {
        MemorySegment slab = arena.allocate(256 * KIB, 4096);
        try (HostRegistration registration = memory.register(slab); DevicePool pool = memory.allocate(256 * KIB);
             DeviceStream stream = memory.openStream()) {
            assertThat(registration.range()).isEqualTo(slab);
            assertThat(registration.pageLocked()).isEqualTo(memory.kind() == DeviceKind.CUDA);
            slab.asSlice(0, 64 * KIB).copyFrom(pattern(64 * KIB, 11));
            pool.copyInAsync(0, slab.asSlice(0, 64 * KIB), stream).await();
            pool.copyOutAsync(0, slab.asSlice(64 * KIB, 64 * KIB), stream).await();
            assertThat(slab.asSlice(64 * KIB, 64 * KIB).mismatch(slab.asSlice(0, 64 * KIB))).isEqualTo(-1);
        }
        assertThatThrownBy(() -> memory.register(MemorySegment.ofArray(new byte[8])))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
