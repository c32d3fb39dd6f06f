package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;

/**
 * Where a committed block lives, for a reader.
 *
 * @param key          block key
 * @param segment      segment name
 * @param offset       offset in the segment, bytes
 * @param length       block length, bytes
 * @param crc32c       CRC32C of the block's bytes, as committed by its writer
 * @param loadEndpoint null when the bytes are in the segment; otherwise the block is on the
 *                     node's SSD tier and the reader first asks the node at this
 *                     {@code host:port} to load it into {@code (segment, offset)}
 */
public record Replica(BlockKey key, String segment, long offset, long length, int crc32c, String loadEndpoint) {
    /** A replica whose bytes are in the segment. */
    public Replica(BlockKey key, String segment, long offset, long length, int crc32c) {
        this(key, segment, offset, length, crc32c, null);
    }

    /** Whether the node must load the block from SSD before it can be read. */
    public boolean needsLoad() {
        return loadEndpoint != null;
    }
}
