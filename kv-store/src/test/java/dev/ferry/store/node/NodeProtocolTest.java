package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.rpc.RpcException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class NodeProtocolTest {
    @Test
    void aLoadWithAnEightByteKeyFromAnEarlierBuildIsRefusedByName() {
        ByteBuf in = Unpooled.buffer().writeLong(7).writeLong(0).writeLong(4096).writeInt(1);
        try {
            // Refused before the tiers are used: a node of this build never reads the 8-byte key.
            assertThatThrownBy(() -> StoreNode.serve(null, NodeProtocol.LEGACY_LOAD, in))
                    .isInstanceOfSatisfying(RpcException.class,
                            e -> assertThat(e.status()).isEqualTo(RpcException.REFUSED))
                    .hasMessageContaining("store node protocol mismatch: LOAD with an 8-byte block key");
            assertThat(in.readerIndex()).isZero();
        } finally {
            in.release();
        }
    }
}
