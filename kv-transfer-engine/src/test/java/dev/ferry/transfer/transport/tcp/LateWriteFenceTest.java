package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.spray.SprayPolicy;
import dev.ferry.transfer.transport.Link;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A WRITE slice held in the network on a link the initiator gave up on, delivered after its
 * resend completed and after another block was written into the same range, must not land:
 * the resend waits until the target has fenced the lost connection. Real engines and sockets;
 * the held link is a {@link DelayingTcpProxy} between them.
 */
class LateWriteFenceTest {
    private static final int BLOCK = 4096;
    private static final long RANGE = 8192;

    /** Each slice on the next link that is up, in turn; the link a slice failed on only when no other is up. */
    private static final class RoundRobin implements SprayPolicy {
        private final AtomicInteger next = new AtomicInteger();

        @Override
        public Link select(List<? extends Link> links, int sliceBytes, Link avoid) {
            int n = links.size();
            for (int i = 0; i < n; i++) {
                Link link = links.get(Math.floorMod(next.getAndIncrement(), n));
                if (link.isUp() && link != avoid) {
                    return link;
                }
            }
            return avoid != null && avoid.isUp() ? avoid : null;
        }
    }

    private static SegmentDescriptor through(SegmentDescriptor d, DelayingTcpProxy proxy) {
        return new SegmentDescriptor(d.name(), d.bytes(), List.of(proxy.endpoint()), d.hostId(), "", List.of(), null);
    }

    private static TransferEngine.Context initiatorContext(SegmentDescriptor d) {
        return initiatorContext(d, 2);
    }

    private static TransferEngine.Context initiatorContext(SegmentDescriptor d, int links) {
        return new TransferEngine.Context().linksPerPeer(links).stallTimeoutMillis(300).sharedMemory(false)
                .sprayPolicy(new RoundRobin()).resolver(name -> d);
    }

    private static void fill(MemorySegment m, byte value) {
        m.fill(value);
    }

    @Test
    void aWriteDelayedOnALostLinkDoesNotOverwriteTheBlockWrittenAfterItsResend() throws Exception {
        try (Slab remote = Slab.allocate(RANGE); Slab a = Slab.allocate(BLOCK); Slab b = Slab.allocate(BLOCK);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            try (DelayingTcpProxy proxy = new DelayingTcpProxy(direct.endpoint());
                 TransferEngine initiator = new TransferEngine(initiatorContext(through(direct, proxy)))) {
                fill(a.memory(), (byte) 0xAA);
                fill(b.memory(), (byte) 0xBB);
                // One write on each link first: both connections are open and past their first bytes.
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();

                proxy.holdNextBytes();
                // Block A: its slice is held on the first link, which stalls; it is resent on the other.
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, BLOCK))).await();
                assertThat(proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
                assertThat(initiator.sliceRetries()).isEqualTo(1);
                // A committed, freed, and its range reused for block B.
                initiator.submit(List.of(TransferRequest.write(b.memory(), 0, "t", 0, BLOCK))).await();
                assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory())).isEqualTo(-1);

                // The held slice of A now reaches the target.
                await().atMost(Duration.ofSeconds(10)).until(proxy::heldInitiatorClosed);
                proxy.release();
                await().atMost(Duration.ofSeconds(10)).until(() -> proxy.heldDelivered() && proxy.heldTargetClosed());

                assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory()))
                        .as("block B after the late delivery of A's first copy").isEqualTo(-1);
                assertThat(initiator.fencedSlices()).isEqualTo(1);
                assertThat(target.tcpCounters().fencesServed()).isEqualTo(1);
            }
        }
    }

    @Test
    void aConnectionFencedBeforeItsFirstBytesArriveIsClosedOnArrival() throws Exception {
        try (Slab remote = Slab.allocate(RANGE); Slab a = Slab.allocate(BLOCK); Slab b = Slab.allocate(BLOCK);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            try (DelayingTcpProxy proxy = new DelayingTcpProxy(direct.endpoint())) {
                proxy.holdConnection(0); // the first link's HELLO and everything after it
                try (TransferEngine initiator = new TransferEngine(initiatorContext(through(direct, proxy)))) {
                    fill(a.memory(), (byte) 0xAA);
                    fill(b.memory(), (byte) 0xBB);
                    initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, BLOCK))).await();
                    assertThat(proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
                    initiator.submit(List.of(TransferRequest.write(b.memory(), 0, "t", 0, BLOCK))).await();

                    await().atMost(Duration.ofSeconds(10)).until(proxy::heldInitiatorClosed);
                    proxy.release();
                    await().atMost(Duration.ofSeconds(10)).until(() -> proxy.heldDelivered() && proxy.heldTargetClosed());

                    assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory())).isEqualTo(-1);
                    assertThat(target.tcpCounters().fencedConnections()).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void withOneLinkTheFenceGoesOverItsNewConnectionBeforeTheResend() throws Exception {
        try (Slab remote = Slab.allocate(RANGE); Slab a = Slab.allocate(BLOCK); Slab b = Slab.allocate(BLOCK);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            try (DelayingTcpProxy proxy = new DelayingTcpProxy(direct.endpoint());
                 TransferEngine initiator = new TransferEngine(initiatorContext(through(direct, proxy), 1))) {
                fill(a.memory(), (byte) 0xAA);
                fill(b.memory(), (byte) 0xBB);
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();

                proxy.holdNextBytes();
                // The only link stalls; the prober reconnects it, and the resend follows the fence on it.
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, BLOCK))).await();
                assertThat(proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
                initiator.submit(List.of(TransferRequest.write(b.memory(), 0, "t", 0, BLOCK))).await();

                await().atMost(Duration.ofSeconds(10)).until(proxy::heldInitiatorClosed);
                proxy.release();
                await().atMost(Duration.ofSeconds(10)).until(() -> proxy.heldDelivered() && proxy.heldTargetClosed());

                assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory())).isEqualTo(-1);
                assertThat(initiator.fencedSlices()).isEqualTo(1);
            }
        }
    }
}
