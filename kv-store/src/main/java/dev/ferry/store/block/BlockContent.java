package dev.ferry.store.block;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The bytes of a synthetic KV block, derived from its block key alone, so that any reader
 * can verify every byte it received without a copy of the original. Word {@code i} of
 * block {@code key} is {@code splitmix64(key * 0x9E3779B97F4A7C15 + i)} (SplitMix64, Steele
 * et al., "Fast splittable pseudorandom number generators", OOPSLA 2014), little-endian;
 * a length that is not a multiple of 8 takes the low bytes of the last word.
 *
 * <p>Stateless; thread-safe. Does not allocate.
 */
public final class BlockContent {
    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private BlockContent() {
    }

    /**
     * Fills {@code out} with the bytes of block {@code key}: those of the 64-bit key
     * {@link #seed(BlockKey)}, so a narrow key {@code BlockKey.of(k)} has the bytes of {@code k}.
     */
    public static void fill(BlockKey key, MemorySegment out) {
        fill(seed(key), out);
    }

    /** {@link #firstMismatch(long, MemorySegment)} for the bytes of {@link #fill(BlockKey, MemorySegment)}. */
    public static long firstMismatch(BlockKey key, MemorySegment in) {
        return firstMismatch(seed(key), in);
    }

    /** The 64-bit key whose bytes block {@code key} has: {@code lo} for a narrow key, else {@code lo} mixed with {@code hi}. */
    static long seed(BlockKey key) {
        return key.isNarrow() ? key.lo() : key.lo() ^ mix(key.hi());
    }

    /** Fills {@code out} (its whole length) with the bytes of block {@code key}. */
    public static void fill(long key, MemorySegment out) {
        long seed = key * 0x9E3779B97F4A7C15L;
        long n = out.byteSize();
        long words = n >>> 3;
        for (long i = 0; i < words; i++) {
            out.set(WORD, i << 3, mix(seed + i));
        }
        long tail = mix(seed + words);
        for (long at = words << 3; at < n; at++) {
            out.set(ValueLayout.JAVA_BYTE, at, (byte) tail);
            tail >>>= 8;
        }
    }

    /**
     * @return the offset of the first byte of {@code in} that differs from block
     *         {@code key}, or -1 when every byte matches
     */
    public static long firstMismatch(long key, MemorySegment in) {
        long seed = key * 0x9E3779B97F4A7C15L;
        long n = in.byteSize();
        long words = n >>> 3;
        for (long i = 0; i < words; i++) {
            if (in.get(WORD, i << 3) != mix(seed + i)) {
                long diff = in.get(WORD, i << 3) ^ mix(seed + i);
                return (i << 3) + (Long.numberOfTrailingZeros(diff) >>> 3);
            }
        }
        long tail = mix(seed + words);
        for (long at = words << 3; at < n; at++) {
            if (in.get(ValueLayout.JAVA_BYTE, at) != (byte) tail) {
                return at;
            }
            tail >>>= 8;
        }
        return -1;
    }

    /**
     * Bytes copied and then checksummed at a time by {@link #copyWithCrc} (256 KiB): the
     * CRC32C reads each piece while it is still in the cache, not the whole block again from memory.
     */
    public static final long COPY_CHUNK = 256 * 1024;

    /**
     * Copies {@code from} to {@code to} (of the same size) in pieces of {@link #COPY_CHUNK},
     * feeding each piece to {@code crc} as it lies in {@code to}: the checksum is of the bytes
     * where they now lie. Not thread-safe as to {@code crc}.
     *
     * @throws IndexOutOfBoundsException when {@code to} is smaller than {@code from}
     */
    public static void copyWithCrc(MemorySegment from, MemorySegment to, CRC32C crc) {
        long size = from.byteSize();
        for (long at = 0; at < size; at += COPY_CHUNK) {
            long n = Math.min(COPY_CHUNK, size - at);
            MemorySegment piece = to.asSlice(at, n);
            MemorySegment.copy(from, at, piece, 0, n);
            crc.update(piece.asByteBuffer());
        }
    }

    /** CRC32C of {@code bytes} (hardware-accelerated by the JDK). */
    public static int crc32c(MemorySegment bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes.asByteBuffer());
        return (int) crc.getValue();
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
