package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;

/**
 * The answer to a put for one key: either the block exists already ({@code segment} null:
 * nothing to write), or space was allocated at {@code (segment, offset)} and the writer
 * must write the bytes there and commit.
 *
 * @param key     block key
 * @param segment segment to write into, or null when the block already exists
 * @param offset  offset in the segment, bytes
 * @param length  bytes to write
 */
public record Placement(BlockKey key, String segment, long offset, long length) {
    /** Whether the block already exists, so nothing is to be written. */
    public boolean exists() {
        return segment == null;
    }
}
