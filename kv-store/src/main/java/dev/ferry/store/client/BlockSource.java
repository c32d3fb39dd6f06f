package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;
import java.lang.foreign.MemorySegment;

/** Produces the bytes of a block that a put must write. */
@FunctionalInterface
public interface BlockSource {
    /** Writes the bytes of block {@code key} into {@code out} (exactly its length). */
    void fill(BlockKey key, MemorySegment out);
}
