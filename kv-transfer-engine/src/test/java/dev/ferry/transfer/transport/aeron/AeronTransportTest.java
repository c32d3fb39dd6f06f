package dev.ferry.transfer.transport.aeron;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferException;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Two engines, each with its own embedded Aeron media driver, over UDP on loopback. */
class AeronTransportTest {
    @Test
    void readsAndWritesGoOverAeronByteForByte() throws Exception {
        LinkedBlockingQueue<String> notes = new LinkedBlockingQueue<>();
        try (Slab remote = Slab.allocate(32L << 20); Slab local = Slab.allocate(32L << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true)
                     .notificationListener((segment, message) -> notes.add(segment + ":" + new String(message))))) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            assertThat(d.aeronEndpoints()).hasSize(1);
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true).resolver(n -> {
                if (!n.equals("t")) {
                    throw new TransferException("unknown segment '" + n + "'", false);
                }
                return d;
            }))) {
                MemorySegment bytes = local.memory();
                for (long i = 0; i < bytes.byteSize(); i += 8) {
                    bytes.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 31 + 7);
                }
                for (long length : new long[] {1, 65_537, 8L << 20}) {
                    initiator.submit(List.of(TransferRequest.write(bytes, 3, "t", 5, length))).await();
                    assertThat(remote.memory().asSlice(5, length).mismatch(bytes.asSlice(3, length))).isEqualTo(-1);
                    MemorySegment back = Slab.allocate(length).memory();
                    initiator.submit(List.of(TransferRequest.read(back, 0, "t", 5, length))).await();
                    assertThat(back.mismatch(bytes.asSlice(3, length))).isEqualTo(-1);
                }
                assertThat(target.tcpCounters().bytesWritten()).isZero();
                assertThat(initiator.aeronLinks(d)).allSatisfy(l -> assertThat(l.estimator().bytes()).isPositive());

                initiator.notify("t", "ready".getBytes()).get(5, TimeUnit.SECONDS);
                assertThat(notes.poll(5, TimeUnit.SECONDS)).isEqualTo("t:ready");

                assertThatThrownBy(() -> initiator.submit(List.of(TransferRequest.read(bytes, 0, "t",
                        (32L << 20) - 1, 2)))).isInstanceOf(IllegalArgumentException.class);
            }
        }
    }

    @Test
    void whenNoAeronLinkComesUpTheSlicesFailOverToTcp() {
        try (Slab remote = Slab.allocate(4 << 20); Slab local = Slab.allocate(4 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor tcpOnly = target.registerSegment("t", remote.memory());
            // An Aeron endpoint where nobody subscribes: its publication never connects.
            SegmentDescriptor d = new SegmentDescriptor("t", tcpOnly.bytes(), tcpOnly.endpoints(), "", "",
                    List.of(new Endpoint("127.0.0.1", 9)));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .connectTimeoutMillis(300).resolver(n -> d))) {
                local.memory().fill((byte) 5);
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 4 << 20))).await();
                assertThat(initiator.transportFailovers()).isPositive();
                assertThat(target.tcpCounters().bytesWritten()).isEqualTo(4 << 20);
                assertThat(remote.memory().mismatch(local.memory())).isEqualTo(-1);
            }
        }
    }
}
