package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.Wire;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.transfer.segment.AeronIpc;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Segment descriptors survive the master's wire format, with and without Aeron; heartbeat
 * reports carry the SSD tier's state, and read those of nodes from before it as OK.
 */
class MasterProtocolTest {
    private static SegmentDescriptor roundTrip(SegmentDescriptor d) {
        ByteBuf buf = Unpooled.buffer();
        try {
            MasterProtocol.writeDescriptor(buf, d);
            SegmentDescriptor back = MasterProtocol.readDescriptor(buf);
            assertThat(buf.isReadable()).isFalse();
            return back;
        } finally {
            buf.release();
        }
    }

    @Test
    void aDescriptorWithUdpAndIpcAddressesReadsBackEqual() {
        SegmentDescriptor d = new SegmentDescriptor("store-1/dram", 1L << 30,
                List.of(new Endpoint("10.0.0.1", 7001), new Endpoint("10.0.1.1", 7001)), "boot-1", "/dev/shm/s.slab",
                List.of(new Endpoint("10.0.0.1", 40001)), new AeronIpc("boot-1:/dev/shm/aeron-ferry", 123_456));
        assertThat(roundTrip(d)).isEqualTo(d);
    }

    @Test
    void aDescriptorWithoutAeronReadsBackEqual() {
        SegmentDescriptor d = new SegmentDescriptor("s", 4096, new Endpoint("127.0.0.1", 1));
        assertThat(roundTrip(d)).isEqualTo(d);
        assertThat(roundTrip(d).aeronIpc()).isNull();
    }

    @Test
    void aReportWithAFullSsdReadsBackEqual() {
        ByteBuf buf = Unpooled.buffer();
        try {
            NodeReport r = new NodeReport(7, BlockKey.ofAll(1, 2), BlockKey.ofAll(3), BlockKey.ofAll(4, 5), SsdHealth.FULL);
            MasterProtocol.writeReport(buf, r);
            NodeReport back = MasterProtocol.readReport(buf);
            assertThat(buf.isReadable()).isFalse();
            assertThat(back.ackedSeq()).isEqualTo(7);
            assertThat(back.demoted()).containsExactly(BlockKey.ofAll(1, 2));
            assertThat(back.loaded()).containsExactly(BlockKey.ofAll(3));
            assertThat(back.ssdGone()).containsExactly(BlockKey.ofAll(4, 5));
            assertThat(back.ssd()).isEqualTo(SsdHealth.FULL);
        } finally {
            buf.release();
        }
    }

    @Test
    void aReportWithoutTheSsdStateReadsAsOkAndAnUnknownStateIsMalformed() {
        ByteBuf buf = Unpooled.buffer();
        try {
            buf.writeLong(3);
            Wire.writeKeys(buf, BlockKey.ofAll(9));
            Wire.writeKeys(buf, new BlockKey[0]);
            Wire.writeKeys(buf, new BlockKey[0]);
            NodeReport old = MasterProtocol.readReport(buf.duplicate());
            assertThat(old.ackedSeq()).isEqualTo(3);
            assertThat(old.demoted()).containsExactly(BlockKey.ofAll(9));
            assertThat(old.ssd()).isEqualTo(SsdHealth.OK);
            buf.writeByte(9);
            assertThatThrownBy(() -> MasterProtocol.readReport(buf)).isInstanceOf(RpcException.class)
                    .hasMessageContaining("unknown SSD health code 9");
        } finally {
            buf.release();
        }
    }
}
