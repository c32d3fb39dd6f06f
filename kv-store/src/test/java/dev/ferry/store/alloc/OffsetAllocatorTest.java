package dev.ferry.store.alloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class OffsetAllocatorTest {
    @Test
    void allocatesAlignedRangesUntilFull() {
        OffsetAllocator a = new OffsetAllocator(4 * 8192);
        assertThat(a.allocate(8192)).isEqualTo(0);
        assertThat(a.allocate(100)).isEqualTo(8192);
        assertThat(a.allocate(8192)).isEqualTo(12288);
        assertThat(a.freeBytes()).isEqualTo(4 * 8192 - 8192 - 4096 - 8192);
        assertThat(a.allocate(16384)).isEqualTo(-1);
    }

    @Test
    void freeCoalescesNeighboursSoLargeRangesFitAgain() {
        OffsetAllocator a = new OffsetAllocator(3 * 4096);
        long x = a.allocate(4096);
        long y = a.allocate(4096);
        long z = a.allocate(4096);
        assertThat(a.allocate(4096)).isEqualTo(-1);
        a.free(x, 4096);
        a.free(z, 4096);
        assertThat(a.largestFree()).isEqualTo(4096);
        a.free(y, 4096);
        assertThat(a.largestFree()).isEqualTo(3 * 4096);
        assertThat(a.allocate(3 * 4096)).isZero();
    }

    @Test
    void bestFitKeepsTheLargeHole() {
        long page = OffsetAllocator.ALIGNMENT;
        OffsetAllocator a = new OffsetAllocator(10 * page);
        long p1 = a.allocate(page);
        a.allocate(page);
        long p3 = a.allocate(3 * page);
        a.allocate(page);
        a.free(p1, page);
        a.free(p3, 3 * page);
        assertThat(a.allocate(page)).isEqualTo(p1);
        assertThat(a.allocate(3 * page)).isEqualTo(p3);
        assertThat(a.allocate(4 * page)).isEqualTo(6 * page);
    }

    @Test
    void refusesDoubleFree() {
        OffsetAllocator a = new OffsetAllocator(2 * 4096);
        long x = a.allocate(4096);
        a.free(x, 4096);
        assertThatThrownBy(() -> a.free(x, 4096)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("double free");
    }

    @Test
    void randomWorkloadNeverOverlapsAndReturnsEverything() {
        OffsetAllocator a = new OffsetAllocator(1 << 24);
        SplittableRandom random = new SplittableRandom(7);
        List<long[]> live = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            if (!live.isEmpty() && random.nextInt(3) == 0) {
                long[] r = live.remove(random.nextInt(live.size()));
                a.free(r[0], r[1]);
            } else {
                long size = 1 + random.nextInt(64 * 1024);
                long at = a.allocate(size);
                if (at >= 0) {
                    for (long[] other : live) {
                        boolean disjoint = at + size <= other[0] || other[0] + other[1] <= at;
                        assertThat(disjoint).as("overlap").isTrue();
                    }
                    live.add(new long[] {at, size});
                }
            }
        }
        live.forEach(r -> a.free(r[0], r[1]));
        assertThat(a.freeBytes()).isEqualTo(1 << 24);
        assertThat(a.largestFree()).isEqualTo(1 << 24);
    }
}
