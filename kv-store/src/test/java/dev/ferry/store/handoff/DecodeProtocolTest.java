package dev.ferry.store.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.handoff.DecodeProtocol.DecodeRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class DecodeProtocolTest {
    @Test
    void aRequestCarriesItsKeysAsSixteenBytesEachAndReadsBackEqual() {
        BlockKey[] keys = {BlockKey.of(7), new BlockKey(-1, 42), BlockKey.of(-3)};
        ByteBuf buf = Unpooled.buffer();
        try {
            new DecodeRequest(9, 1000, 50, 4096, keys).write(buf);
            assertThat(buf.readableBytes()).isEqualTo(4 + 4 + 4 + 8 + 4 + 3 * BlockKey.BYTES);
            DecodeRequest back = DecodeRequest.read(buf);
            assertThat(buf.isReadable()).isFalse();
            assertThat(back.requestId()).isEqualTo(9);
            assertThat(back.blockBytes()).isEqualTo(4096);
            assertThat(back.keys()).containsExactly(keys);
        } finally {
            buf.release();
        }
    }
}
