package dev.ferry.store.handoff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.metrics.LinkTraffic;
import dev.ferry.transfer.metrics.MappingPopulation;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrafficProtocolTest {
    @Test
    void everyLinkComesBackAsWritten() {
        List<LinkTraffic> links = List.of(new LinkTraffic("tcp", "tcp:127.0.0.1:7000#0", 5_600_000_000L, 21_000, 7),
                new LinkTraffic("aeron", "udp:127.0.0.1:40123", 0, 0),
                new LinkTraffic("shm", "shared-memory", 1 << 20, 4));
        ByteBuf b = Unpooled.buffer();
        try {
            TrafficProtocol.write(b, links);
            assertThat(TrafficProtocol.read(b)).isEqualTo(links);
            assertThat(b.readableBytes()).isZero();
        } finally {
            b.release();
        }
    }

    /** A node of the version before failures were counted ends its answer after the slices. */
    @Test
    void anAnswerWithoutFailuresReadsAsNone() {
        ByteBuf b = Unpooled.buffer();
        try {
            TrafficProtocol.write(b, List.of(new LinkTraffic("tcp", "l", 1, 2, 3)));
            ByteBuf older = b.slice(0, b.readableBytes() - Long.BYTES);
            assertThat(TrafficProtocol.read(older)).containsExactly(new LinkTraffic("tcp", "l", 1, 2, 0));
        } finally {
            b.release();
        }
    }

    @Test
    void aShortAnswerIsRefusedNotMisread() {
        ByteBuf b = Unpooled.buffer();
        try {
            TrafficProtocol.write(b, List.of(new LinkTraffic("tcp", "l", 1, 1)));
            ByteBuf cut = b.slice(0, b.readableBytes() - Long.BYTES - 3); // into the link, before its failures
            assertThatThrownBy(() -> TrafficProtocol.read(cut)).isInstanceOf(RpcException.class);
            ByteBuf negative = Unpooled.buffer().writeInt(-1);
            assertThatThrownBy(() -> TrafficProtocol.read(negative)).isInstanceOf(RpcException.class)
                    .hasMessageContaining("-1 links");
            negative.release();
        } finally {
            b.release();
        }
    }

    @Test
    void theMappingsPopulationComesBackAsWrittenAndAShortOrNegativeOneIsRefused() {
        ByteBuf b = Unpooled.buffer();
        ByteBuf negative = Unpooled.buffer().writeLong(-5).writeDouble(1.0);
        try {
            TrafficProtocol.write(b, new MappingPopulation(6_300_000_000L, 4_210.5));
            assertThat(TrafficProtocol.readMappings(b.duplicate())).isEqualTo(new MappingPopulation(6_300_000_000L, 4_210.5));
            ByteBuf cut = b.slice(0, b.readableBytes() - 1);
            assertThatThrownBy(() -> TrafficProtocol.readMappings(cut)).isInstanceOf(RpcException.class)
                    .hasMessageContaining("16 expected");
            assertThatThrownBy(() -> TrafficProtocol.readMappings(negative)).isInstanceOf(RpcException.class)
                    .hasMessageContaining("-5 bytes");
        } finally {
            b.release();
            negative.release();
        }
    }
}
