package dev.ferry.store.block;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BlockKeyTest {
    private static final byte[] DIGEST = HexFormat.of().parseHex("0123456789abcdeffedcba9876543210");

    @Test
    void aDigestIsItsBytesBigEndianHighHalfFirstOnEveryEncoding() {
        BlockKey key = BlockKey.ofDigest(DIGEST);
        assertThat(key.hi()).isEqualTo(0x0123456789abcdefL);
        assertThat(key.lo()).isEqualTo(0xfedcba9876543210L);
        assertThat(key.toBytes()).isEqualTo(DIGEST);
        assertThat(key).hasToString("0123456789abcdeffedcba9876543210");

        ByteBuf buf = Unpooled.buffer();
        try {
            key.write(buf);
            assertThat(io.netty.buffer.ByteBufUtil.getBytes(buf)).isEqualTo(DIGEST);
            assertThat(BlockKey.read(buf)).isEqualTo(key);
            assertThat(buf.isReadable()).isFalse();
        } finally {
            buf.release();
        }
        // A little-endian buffer (the sidecar's frames) still carries the key big-endian, and keeps its order.
        ByteBuffer le = ByteBuffer.allocate(BlockKey.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        key.write(le);
        assertThat(le.array()).isEqualTo(DIGEST);
        assertThat(le.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(BlockKey.read(le.flip())).isEqualTo(key);
        assertThat(BlockKey.fromBytes(DIGEST, 0)).isEqualTo(key);
        assertThat(BlockKey.parse(key.toString())).isEqualTo(key);
    }

    @Test
    void aSixtyFourBitKeyIsNarrowWithAZeroHighHalf() {
        BlockKey key = BlockKey.of(-2);
        assertThat(key.isNarrow()).isTrue();
        assertThat(key.narrow()).isEqualTo(-2);
        assertThat(key).hasToString("0000000000000000fffffffffffffffe");
        assertThat(BlockKey.parse("2a")).isEqualTo(BlockKey.of(42));
        assertThat(BlockKey.ofAll(1, 2)).containsExactly(BlockKey.of(1), BlockKey.of(2));
        BlockKey wide = new BlockKey(1, 42);
        assertThat(wide.isNarrow()).isFalse();
        assertThat(wide).isNotEqualTo(BlockKey.of(42));
        assertThatThrownBy(wide::narrow).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("block key 0000000000000001000000000000002a is wider than 64 bits");
    }

    @Test
    void keysOrderUnsignedAsTheirBytesDo() {
        BlockKey small = new BlockKey(0, -1); // lo all ones: 2^64 - 1
        BlockKey large = new BlockKey(1, 0);
        BlockKey top = new BlockKey(-1, 0); // hi all ones: above every key with a smaller high half
        assertThat(small).isLessThan(large);
        assertThat(large).isLessThan(top);
        assertThat(BlockKey.of(1)).isLessThan(BlockKey.of(-1));
        assertThat(java.util.Arrays.compareUnsigned(small.toBytes(), large.toBytes())).isNegative();
        assertThat(java.util.Arrays.compareUnsigned(large.toBytes(), top.toBytes())).isNegative();
    }

    @Test
    void hashCodesSpreadKeysThatDifferOnlyInOneHalf() {
        // Keys with equal low halves and consecutive high halves (and the reverse) must not share
        // hash buckets: a table of 4096 buckets gets nearly one key per bucket.
        Set<Integer> buckets = new HashSet<>();
        for (long i = 0; i < 4096; i++) {
            buckets.add(new BlockKey(i, 7).hashCode() & 4095);
            buckets.add(new BlockKey(7, i).hashCode() & 4095);
        }
        assertThat(buckets.size()).isGreaterThan(2_500);
        assertThat(new BlockKey(3, 4)).hasSameHashCodeAs(new BlockKey(3, 4)).isEqualTo(new BlockKey(3, 4));
        assertThat(new BlockKey(3, 4).hashCode()).isNotEqualTo(new BlockKey(4, 3).hashCode());
    }

    @Test
    void badInputIsAClearError() {
        assertThatThrownBy(() -> BlockKey.ofDigest(new byte[8])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("16 bytes, not 8");
        assertThatThrownBy(() -> BlockKey.parse("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BlockKey.parse("1".repeat(33))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1 to 32 hex digits");
        assertThatThrownBy(() -> BlockKey.read(ByteBuffer.allocate(15)))
                .isInstanceOf(java.nio.BufferUnderflowException.class);
    }
}
