package dev.ferry.store.master;

/**
 * A committed block as a store node's local index records it: where it lies in the node's
 * segment and the CRC32C its writer committed. A restarted node re-registers these.
 *
 * @param key    block key
 * @param offset offset in the node's segment, bytes
 * @param length block length, bytes
 * @param crc32c CRC32C of the block's bytes
 */
public record IndexedBlock(long key, long offset, long length, int crc32c) {
}
