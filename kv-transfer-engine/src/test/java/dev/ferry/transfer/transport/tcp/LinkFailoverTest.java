package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.BatchHandle;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

class LinkFailoverTest {
    @Test
    void slicesOfACutConnectionAreResentOnAnotherLinkAndTheLinkComesBack() {
        long length = 128L << 20;
        try (Slab remote = Slab.allocate(length); Slab local = Slab.allocate(length);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(2)
                    .resolver(name -> d))) {
                MemorySegment bytes = local.memory();
                for (long i = 0; i < length; i += 8) {
                    bytes.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 0x9E3779B97F4A7C15L);
                }
                var links = initiator.links(d.endpoint());
                BatchHandle handle = initiator.submit(List.of(TransferRequest.write(bytes, 0, "t", 0, length)));
                TcpLink cut = (TcpLink) links.get(0);
                cut.close(); // outstanding slices on it fail as retryable
                handle.await();

                assertThat(remote.memory().mismatch(bytes)).isEqualTo(-1);
                assertThat(initiator.sliceRetries()).isPositive();
                // With the other link still up, the cut one is not needed; when it is the
                // only choice it reconnects.
                ((TcpLink) links.get(1)).close();
                initiator.submit(List.of(TransferRequest.read(bytes, 0, "t", 0, 1 << 20))).await();
                assertThat(links.stream().anyMatch(l -> l.isUp())).isTrue();
            }
        }
    }
}
