package dev.ferry.store.block;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class BlockContentTest {
    @Test
    void contentIsDeterministicPerKeyAndVerifiable() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(10_003);
            MemorySegment b = arena.allocate(10_003);
            BlockContent.fill(42, a);
            BlockContent.fill(42, b);
            assertThat(a.mismatch(b)).isEqualTo(-1);
            assertThat(BlockContent.firstMismatch(42, a)).isEqualTo(-1);
            assertThat(BlockContent.firstMismatch(43, a)).isZero();
            assertThat(BlockContent.crc32c(a)).isEqualTo(BlockContent.crc32c(b));
        }
    }

    @Test
    void findsTheFirstCorruptedByteAnywhere() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(4099);
            for (long at : new long[] {0, 7, 8, 1234, 4096, 4098}) {
                BlockContent.fill(9, a);
                a.set(ValueLayout.JAVA_BYTE, at, (byte) (a.get(ValueLayout.JAVA_BYTE, at) ^ 0x10));
                assertThat(BlockContent.firstMismatch(9, a)).isEqualTo(at);
            }
        }
    }
}
