package dev.ferry.store.sidecar;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * How a string key is stored with its value in a block (protocol version 3's named blocks,
 * and what the Python package wrote itself before): the one place of that layout.
 * <pre>
 *   0   4 bytes   magic "FRK1"
 *   4   u32 LE    key length in bytes (UTF-8)
 *   8   u64 LE    value length in bytes
 *   16  key bytes
 *   then          value bytes
 * </pre>
 * Every hit of a named request compares magic, key and lengths: the block of another key
 * (or not of this layout) is a miss, never that key's bytes. Stateless; thread-safe.
 */
final class NamedBlock {
    /** Bytes before the key. */
    static final int FIXED = 16;
    private static final int MAGIC = 0x314B5246; // "FRK1", read as a little-endian u32
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private NamedBlock() {
    }

    /** Bytes of the header of a key of {@code nameBytes} bytes. */
    static int headerLength(int nameBytes) {
        return FIXED + nameBytes;
    }

    /** The header that precedes a value of {@code valueLength} bytes under {@code name}, in {@code arena}. */
    static MemorySegment header(Arena arena, byte[] name, long valueLength) {
        MemorySegment h = arena.allocate(headerLength(name.length));
        h.set(U32, 0, MAGIC);
        h.set(U32, 4, name.length);
        h.set(U64, 8, valueLength);
        MemorySegment.copy(MemorySegment.ofArray(name), 0, h, FIXED, name.length);
        return h;
    }

    /**
     * The value length the block's header declares for {@code name}, or -1 when the block is
     * another key's (or not of this layout).
     *
     * @param prefix      at least the header's bytes of the block
     * @param blockLength the block's whole length, or -1 when unknown (then it is not checked)
     */
    static long valueLength(MemorySegment prefix, byte[] name, long blockLength) {
        int n = headerLength(name.length);
        if (prefix.byteSize() < n || prefix.get(U32, 0) != MAGIC || prefix.get(U32, 4) != name.length) {
            return -1;
        }
        long value = prefix.get(U64, 8);
        if (value < 0 || (blockLength >= 0 && blockLength != n + value)) {
            return -1;
        }
        return MemorySegment.mismatch(prefix, FIXED, n, MemorySegment.ofArray(name), 0, name.length) == -1 ? value : -1;
    }
}
