package dev.ferry.store.master;

/**
 * Where a committed block lives.
 *
 * @param key     block key
 * @param segment segment name
 * @param offset  offset in the segment, bytes
 * @param length  block length, bytes
 * @param crc32c  CRC32C of the block's bytes, as committed by its writer
 */
public record Replica(long key, String segment, long offset, long length, int crc32c) {
}
