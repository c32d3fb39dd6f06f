package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;
import java.lang.foreign.MemorySegment;

/** Receives each block a get has read; the bytes are valid only during the call. */
@FunctionalInterface
public interface BlockSink {
    /**
     * @param key         block key
     * @param bytes       the block's bytes in the reader's staging memory
     * @param expectedCrc CRC32C recorded when the block was committed
     */
    void accept(BlockKey key, MemorySegment bytes, int expectedCrc);
}
