package dev.ferry.store.tier;

import dev.ferry.store.block.BlockKey;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The byte layouts of the SSD tier's RocksDB entries. Keys are the block key as 16 bytes
 * ({@link BlockKey}'s form: big-endian, so RocksDB's byte order is the keys' unsigned order);
 * earlier builds wrote 8-byte keys (the 64-bit key big-endian), read as
 * {@link BlockKey#of(long)} ({@link #key(byte[])} tells them by length). A metadata value is
 * 16 bytes, little-endian:
 *
 * <pre>
 * offset size field
 *  0     4    block length, bytes (0 to 2^31 - 1)
 *  4     4    CRC32C of the block's bytes
 *  8     8    last access, microseconds since the epoch
 * </pre>
 *
 * <p>Stateless; thread-safe.
 */
final class MetaRecord {
    /** Bytes of a key. */
    static final int KEY_BYTES = BlockKey.BYTES;
    /** Bytes of a key written by earlier builds. */
    static final int LEGACY_KEY_BYTES = Long.BYTES;
    /** Bytes of a metadata value. */
    static final int BYTES = 16;

    private MetaRecord() {
    }

    /** Writes {@code key} into {@code out} (position 0, limit 16), ready to read. */
    static ByteBuffer key(ByteBuffer out, BlockKey key) {
        out.clear();
        key.write(out);
        return out.flip();
    }

    /** The 16-byte key of {@code key}. */
    static byte[] key(BlockKey key) {
        return key.toBytes();
    }

    /**
     * Reads a key written by {@link #key(BlockKey)}, or the 8-byte key of an earlier build.
     *
     * @throws IllegalArgumentException for any other length
     */
    static BlockKey key(byte[] bytes) {
        return switch (bytes.length) {
            case KEY_BYTES -> BlockKey.fromBytes(bytes, 0);
            case LEGACY_KEY_BYTES -> BlockKey.of(ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN).getLong(0));
            default -> throw new IllegalArgumentException("an SSD tier key has " + KEY_BYTES + " bytes (or "
                    + LEGACY_KEY_BYTES + " from an earlier build), this one " + bytes.length);
        };
    }

    /** Writes the metadata of a block into {@code out} (position 0, limit 16), ready to read. */
    static ByteBuffer encode(ByteBuffer out, long length, int crc32c, long lastAccessMicros) {
        out.clear();
        out.order(ByteOrder.LITTLE_ENDIAN).putInt(0, Math.toIntExact(length)).putInt(4, crc32c)
                .putLong(8, lastAccessMicros);
        return out.limit(BYTES);
    }

    /** The metadata of {@code block} as a fresh array. */
    static byte[] encode(StoredBlock block) {
        ByteBuffer out = ByteBuffer.allocate(BYTES);
        encode(out, block.length(), block.crc32c(), block.lastAccessMicros());
        return out.array();
    }

    /**
     * @throws IllegalArgumentException when {@code value} is not a metadata record
     */
    static StoredBlock decode(BlockKey key, byte[] value) {
        if (value.length != BYTES) {
            throw new IllegalArgumentException("metadata of block key " + key + " has " + value.length
                    + " bytes, expected " + BYTES);
        }
        ByteBuffer in = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
        int length = in.getInt(0);
        if (length < 0) {
            throw new IllegalArgumentException("metadata of block key " + key + " has a negative length " + length);
        }
        return new StoredBlock(key, length, in.getInt(4), in.getLong(8));
    }
}
