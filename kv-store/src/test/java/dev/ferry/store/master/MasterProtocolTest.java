package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.transfer.segment.AeronIpc;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Segment descriptors survive the master's wire format, with and without Aeron. */
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
}
