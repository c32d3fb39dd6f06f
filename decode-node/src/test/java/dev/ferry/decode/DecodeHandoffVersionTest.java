package dev.ferry.decode;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.handoff.DecodeProtocol;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.rpc.RpcException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class DecodeHandoffVersionTest {
    @Test
    void aHandOffWithEightByteKeysFromAnEarlierBuildIsRefusedByName() {
        // The refusal comes before the store is used: a node without one answers it.
        DecodeNode node = new DecodeNode(null, ModelProfile.known().getFirst(), 3_350);
        ByteBuf in = Unpooled.buffer();
        ByteBuf out = Unpooled.buffer();
        try {
            in.writeInt(1).writeInt(512).writeInt(8).writeLong(4096).writeInt(1).writeLong(7);
            assertThatThrownBy(() -> node.handle(DecodeProtocol.LEGACY_DECODE, in, out))
                    .isInstanceOfSatisfying(RpcException.class, e -> org.assertj.core.api.Assertions
                            .assertThat(e.status()).isEqualTo(RpcException.REFUSED))
                    .hasMessageContaining("decode protocol mismatch: DECODE with 8-byte block keys");
        } finally {
            in.release();
            out.release();
        }
    }
}
