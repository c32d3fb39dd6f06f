package dev.ferry.store.block;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The key of a KV block: an unsigned 128-bit integer, held as two longs, {@code hi} (bits
 * 127..64) and {@code lo} (bits 63..0). It is wide enough for a 128-bit digest of a string
 * key (so that two strings never share a block through a 64-bit hash collision); a 64-bit
 * key {@code k} of earlier builds and of traces is {@link #of(long) of(k)} = {@code (0, k)},
 * a "narrow" key.
 *
 * <p>Encoded form, the one used on every wire and on disk: {@value #BYTES} bytes,
 * big-endian, {@code hi} then {@code lo}, so the encoded bytes of {@link #ofDigest} are the
 * digest's bytes and keys sort bytewise as they sort by {@link #compareTo}. All encoding and
 * decoding lives in this class.
 *
 * <p>Immutable; thread-safe. A key per block operation is the only allocation; encoding
 * and decoding into a caller's buffer allocate nothing.
 *
 * @param hi bits 127..64
 * @param lo bits 63..0
 */
public record BlockKey(long hi, long lo) implements Comparable<BlockKey> {
    /** Bytes of the encoded key. */
    public static final int BYTES = 16;

    /** The 64-bit key {@code key} as a 128-bit one: {@code (0, key)}. */
    public static BlockKey of(long key) {
        return new BlockKey(0, key);
    }

    /** {@link #of(long)} of each key, in order. */
    public static BlockKey[] ofAll(long... keys) {
        BlockKey[] out = new BlockKey[keys.length];
        for (int i = 0; i < keys.length; i++) {
            out[i] = of(keys[i]);
        }
        return out;
    }

    /**
     * The key of a 128-bit digest (e.g. BLAKE2b with a 16-byte digest): its bytes read
     * big-endian, the first 8 as {@code hi}.
     *
     * @throws IllegalArgumentException when {@code digest} is not {@value #BYTES} bytes
     */
    public static BlockKey ofDigest(byte[] digest) {
        if (digest.length != BYTES) {
            throw new IllegalArgumentException("a block key digest is " + BYTES + " bytes, not " + digest.length);
        }
        return fromBytes(digest, 0);
    }

    /** Reads the {@value #BYTES} bytes at {@code offset} of {@code bytes} (encoded form). */
    public static BlockKey fromBytes(byte[] bytes, int offset) {
        ByteBuffer b = ByteBuffer.wrap(bytes, offset, BYTES).order(ByteOrder.BIG_ENDIAN);
        return new BlockKey(b.getLong(), b.getLong());
    }

    /**
     * Reads a key at the reader index of {@code buf} and advances it by {@value #BYTES}.
     *
     * @throws IndexOutOfBoundsException when fewer than {@value #BYTES} bytes are readable
     */
    public static BlockKey read(ByteBuf buf) {
        // readLong is big-endian whatever the buffer's order (Netty's contract).
        return new BlockKey(buf.readLong(), buf.readLong());
    }

    /**
     * Reads a key at the position of {@code buf} (its byte order is ignored) and advances it.
     *
     * @throws java.nio.BufferUnderflowException when fewer than {@value #BYTES} bytes remain
     */
    public static BlockKey read(ByteBuffer buf) {
        if (buf.remaining() < BYTES) {
            throw new java.nio.BufferUnderflowException();
        }
        ByteOrder order = buf.order();
        buf.order(ByteOrder.BIG_ENDIAN);
        try {
            return new BlockKey(buf.getLong(), buf.getLong());
        } finally {
            buf.order(order);
        }
    }

    /** Parses 1 to 32 hex digits (as {@link #toString} writes them). */
    public static BlockKey parse(String hex) {
        if (hex.isEmpty() || hex.length() > 32) {
            throw new IllegalArgumentException("a block key is 1 to 32 hex digits, not \"" + hex + "\"");
        }
        int split = Math.max(0, hex.length() - 16);
        long hi = split == 0 ? 0 : Long.parseUnsignedLong(hex.substring(0, split), 16);
        return new BlockKey(hi, Long.parseUnsignedLong(hex.substring(split), 16));
    }

    /** Writes the encoded key at the writer index of {@code buf}. */
    public ByteBuf write(ByteBuf buf) {
        return buf.writeLong(hi).writeLong(lo);
    }

    /** Writes the encoded key at the position of {@code buf} (its byte order is ignored) and advances it. */
    public ByteBuffer write(ByteBuffer buf) {
        ByteOrder order = buf.order();
        buf.order(ByteOrder.BIG_ENDIAN).putLong(hi).putLong(lo);
        buf.order(order);
        return buf;
    }

    /** The encoded key, a new array of {@value #BYTES} bytes. */
    public byte[] toBytes() {
        byte[] out = new byte[BYTES];
        write(ByteBuffer.wrap(out));
        return out;
    }

    /** Whether this is a 64-bit key ({@code hi == 0}). */
    public boolean isNarrow() {
        return hi == 0;
    }

    /**
     * The 64-bit key of a narrow key.
     *
     * @throws IllegalStateException when the key is wider than 64 bits
     */
    public long narrow() {
        if (hi != 0) {
            throw new IllegalStateException("block key " + this + " is wider than 64 bits");
        }
        return lo;
    }

    /** Unsigned order: {@code hi} first, then {@code lo}; the order of the encoded bytes. */
    @Override
    public int compareTo(BlockKey o) {
        int c = Long.compareUnsigned(hi, o.hi);
        return c != 0 ? c : Long.compareUnsigned(lo, o.lo);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockKey k && k.hi == hi && k.lo == lo;
    }

    /** Both halves mixed (a SplitMix64 finaliser), so that keys of any structure spread across a hash table. */
    @Override
    public int hashCode() {
        long z = lo ^ (hi * 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (int) (z ^ (z >>> 32));
    }

    /** 32 lower-case hex digits, {@code hi} first. */
    @Override
    public String toString() {
        return String.format("%016x%016x", hi, lo);
    }
}
