package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.Transport;
import dev.ferry.transfer.metrics.LinkTraffic;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A peer whose TCP links all go down while its Aeron link answers gets its TCP requests over
 * Aeron. Real engines, real sockets and media drivers; TCP goes through a
 * {@link DelayingTcpProxy} that the test closes (its port then refuses connects).
 */
class TcpToAeronFailoverTest {
    private static final int MIB = 1 << 20;

    private static long bytesOn(TransferEngine engine, String transport) {
        return engine.traffic().stream().filter(t -> t.transport().equals(transport)).mapToLong(LinkTraffic::bytes)
                .sum();
    }

    @Test
    void whenThePeersTcpLinksGoDownItsTcpRequestsCompleteOverAeron() throws Exception {
        try (Slab remote = Slab.allocate(4 * MIB); Slab local = Slab.allocate(4 * MIB);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true))) {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            DelayingTcpProxy proxy = new DelayingTcpProxy(direct.endpoint());
            SegmentDescriptor d = new SegmentDescriptor("t", 4 * MIB, List.of(proxy.endpoint()), "", "",
                    direct.aeronEndpoints());
            try (proxy; TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .stallTimeoutMillis(300).sharedMemory(false).resolver(n -> d))) {
                for (long i = 0; i < 4 * MIB; i += 8) {
                    local.memory().set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 31 + 7);
                }
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, MIB)
                        .withTransport(Transport.TCP))).await();
                assertThat(bytesOn(initiator, LinkTraffic.TCP)).isEqualTo(MIB);
                assertThat(bytesOn(initiator, LinkTraffic.AERON)).isZero();

                proxy.close(); // the peer's TCP links drop, and its TCP port refuses connects from now on
                initiator.submit(List.of(TransferRequest.write(local.memory(), MIB, "t", MIB, 3 * MIB)
                        .withTransport(Transport.TCP))).await();

                assertThat(remote.memory().mismatch(local.memory())).isEqualTo(-1);
                assertThat(initiator.transportFailovers()).isPositive();
                assertThat(bytesOn(initiator, LinkTraffic.TCP)).isEqualTo(MIB);
                assertThat(bytesOn(initiator, LinkTraffic.AERON)).isEqualTo(3 * MIB);
                assertThat(target.aeronCounters().serving().bytesWritten()).isEqualTo(3 * MIB);
            }
        }
    }
}
