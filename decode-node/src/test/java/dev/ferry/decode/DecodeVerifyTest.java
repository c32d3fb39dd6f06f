package dev.ferry.decode;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class DecodeVerifyTest {
    @Test
    void acceptsTheRightBytesAndRefusesAFlippedByteOrAWrongCrc() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment block = arena.allocate(64 * 1024);
            BlockContent.fill(77, block);
            int crc = BlockContent.crc32c(block);
            assertThat(DecodeNode.verify(BlockKey.of(77), block, crc)).isTrue();
            assertThat(DecodeNode.verify(BlockKey.of(78), block, crc)).isFalse();
            assertThat(DecodeNode.verify(BlockKey.of(77), block, crc ^ 1)).isFalse();
            block.set(ValueLayout.JAVA_BYTE, 40_000, (byte) (block.get(ValueLayout.JAVA_BYTE, 40_000) + 1));
            assertThat(DecodeNode.verify(BlockKey.of(77), block, BlockContent.crc32c(block))).isFalse();
        }
    }
}
