package dev.ferry.store.tier;

import dev.ferry.store.block.BlockKey;

/**
 * What the SSD tier knows of one stored block: the metadata record kept beside its bytes.
 *
 * @param key              block key
 * @param length           block length, bytes
 * @param crc32c           CRC32C of the block's bytes, as given at put
 * @param lastAccessMicros time of the last put or get, microseconds since the epoch, made
 *                         strictly increasing within one tier so that it also orders
 *                         accesses (gets since the last clean close are lost by a crash)
 */
public record StoredBlock(BlockKey key, long length, int crc32c, long lastAccessMicros) {
}
