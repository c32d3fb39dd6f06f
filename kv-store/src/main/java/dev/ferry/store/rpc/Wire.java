package dev.ferry.store.rpc;

import dev.ferry.store.block.BlockKey;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Encoding helpers for RPC payloads: strings as u16 length + UTF-8, arrays as i32 count +
 * elements, block keys in {@link BlockKey}'s 16-byte form. Decoders check every length against what is readable, so a short or corrupt
 * payload gives a {@link RpcException} rather than an index error. Stateless; thread-safe.
 */
public final class Wire {
    /** Longest string, bytes. */
    public static final int MAX_STRING = 65_535;
    /** Longest array, elements. */
    public static final int MAX_ARRAY = 1 << 20;

    private Wire() {
    }

    public static void writeString(ByteBuf buf, String s) {
        byte[] bytes = (s == null ? "" : s).getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_STRING) {
            throw new IllegalArgumentException("string longer than " + MAX_STRING + " bytes");
        }
        buf.writeShort(bytes.length).writeBytes(bytes);
    }

    public static String readString(ByteBuf buf) {
        need(buf, 2);
        int n = buf.readUnsignedShort();
        need(buf, n);
        String s = buf.toString(buf.readerIndex(), n, StandardCharsets.UTF_8);
        buf.skipBytes(n);
        return s;
    }

    public static void writeLongs(ByteBuf buf, long[] values) {
        buf.writeInt(values.length);
        for (long v : values) {
            buf.writeLong(v);
        }
    }

    public static long[] readLongs(ByteBuf buf) {
        int n = readCount(buf, 8);
        long[] values = new long[n];
        for (int i = 0; i < n; i++) {
            values[i] = buf.readLong();
        }
        return values;
    }

    /** Writes a count (i32), then each key's {@value BlockKey#BYTES} bytes. */
    public static void writeKeys(ByteBuf buf, BlockKey[] keys) {
        buf.writeInt(keys.length);
        for (BlockKey k : keys) {
            k.write(buf);
        }
    }

    public static BlockKey[] readKeys(ByteBuf buf) {
        int n = readCount(buf, BlockKey.BYTES);
        BlockKey[] keys = new BlockKey[n];
        for (int i = 0; i < n; i++) {
            keys[i] = BlockKey.read(buf);
        }
        return keys;
    }

    public static BlockKey readKey(ByteBuf buf) {
        need(buf, BlockKey.BYTES);
        return BlockKey.read(buf);
    }

    public static void writeInts(ByteBuf buf, int[] values) {
        buf.writeInt(values.length);
        for (int v : values) {
            buf.writeInt(v);
        }
    }

    public static int[] readInts(ByteBuf buf) {
        int n = readCount(buf, 4);
        int[] values = new int[n];
        for (int i = 0; i < n; i++) {
            values[i] = buf.readInt();
        }
        return values;
    }

    /** Writes a count (i32), then one byte (0 or 1) per value. */
    public static void writeBooleans(ByteBuf buf, boolean[] values) {
        buf.writeInt(values.length);
        for (boolean v : values) {
            buf.writeBoolean(v);
        }
    }

    public static boolean[] readBooleans(ByteBuf buf) {
        int n = readCount(buf, 1);
        boolean[] values = new boolean[n];
        for (int i = 0; i < n; i++) {
            values[i] = buf.readBoolean();
        }
        return values;
    }

    /** Reads an element count and checks that {@code count * elementBytes} are readable. */
    public static int readCount(ByteBuf buf, int elementBytes) {
        need(buf, 4);
        int n = buf.readInt();
        if (n < 0 || n > MAX_ARRAY) {
            throw new RpcException(RpcException.MALFORMED, "array count " + n + " out of range");
        }
        need(buf, (long) n * elementBytes);
        return n;
    }

    public static int readInt(ByteBuf buf) {
        need(buf, 4);
        return buf.readInt();
    }

    public static long readLong(ByteBuf buf) {
        need(buf, 8);
        return buf.readLong();
    }

    public static int readByte(ByteBuf buf) {
        need(buf, 1);
        return buf.readUnsignedByte();
    }

    public static boolean readBoolean(ByteBuf buf) {
        need(buf, 1);
        return buf.readBoolean();
    }

    private static void need(ByteBuf buf, long bytes) {
        if (buf.readableBytes() < bytes) {
            throw new RpcException(RpcException.MALFORMED, "payload too short: need " + bytes + " bytes, have "
                    + buf.readableBytes());
        }
    }
}
