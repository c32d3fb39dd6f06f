package dev.ferry.transfer.transport.aeron;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.BatchHandle;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.TransferStatus;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.spray.SprayPolicy;
import dev.ferry.transfer.transport.Link;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A WRITE slice held in the network on an Aeron session the initiator gave up on, delivered
 * after its resend completed and after another block was written into the same range, must
 * not land: the resend waits until the target has fenced the lost session. Real engines, real
 * media drivers on UDP loopback; the held link is a {@link DelayingUdpProxy} between them.
 */
class LateAeronWriteFenceTest {
    private static final int BLOCK = 4096;
    private static final long RANGE = 8192;

    /** The first link that is up, other than the one the slice failed on if another is up. */
    private static final SprayPolicy FIRST_UP = (links, sliceBytes, avoid) -> {
        for (Link link : links) {
            if (link.isUp() && link != avoid) {
                return link;
            }
        }
        return avoid != null && avoid.isUp() ? avoid : null;
    };

    private static TransferEngine.Context initiator(SegmentDescriptor d) {
        return new TransferEngine.Context().aeron(true).stallTimeoutMillis(300).sharedMemory(false)
                .sprayPolicy(FIRST_UP).resolver(name -> d);
    }

    /** The target's segment, reached over Aeron at {@code aeron} (and over TCP at its own endpoint). */
    private static SegmentDescriptor over(SegmentDescriptor d, List<Endpoint> aeron) {
        return new SegmentDescriptor(d.name(), d.bytes(), d.endpoints(), "", "", aeron);
    }

    @Test
    void aWriteHeldOnALostAeronSessionDoesNotOverwriteTheBlockWrittenAfterItsResend() throws Exception {
        try (Slab remote = Slab.allocate(RANGE); Slab a = Slab.allocate(BLOCK); Slab b = Slab.allocate(BLOCK);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true))) {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            try (DelayingUdpProxy proxy = new DelayingUdpProxy(direct.aeronEndpoints().getFirst());
                 TransferEngine initiator = new TransferEngine(initiator(over(direct,
                         List.of(proxy.endpoint(), direct.aeronEndpoints().getFirst()))))) {
                a.memory().fill((byte) 0xAA);
                b.memory().fill((byte) 0xBB);
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();

                proxy.holdNextData();
                // Block A: its slice is held on the first link (through the proxy), which stalls; resent on the other.
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, BLOCK))).await();
                assertThat(proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
                assertThat(initiator.sliceRetries()).isEqualTo(1);
                // A committed, freed, and its range reused for block B.
                initiator.submit(List.of(TransferRequest.write(b.memory(), 0, "t", 0, BLOCK))).await();
                assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory())).isEqualTo(-1);

                deliverHeld(proxy, target);

                assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory()))
                        .as("block B after the late delivery of A's first copy").isEqualTo(-1);
                assertThat(initiator.fencedSlices()).isEqualTo(1);
                assertThat(target.aeronCounters().fencesServed()).isEqualTo(1);
                assertThat(target.aeronCounters().fencedMessages()).isPositive();
            }
        }
    }

    @Test
    void withOneAeronLinkTheResendWaitsForTheFenceOfItsLostSession() throws Exception {
        try (Slab remote = Slab.allocate(RANGE); Slab a = Slab.allocate(BLOCK); Slab b = Slab.allocate(BLOCK);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true))) {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            try (DelayingUdpProxy proxy = new DelayingUdpProxy(direct.aeronEndpoints().getFirst());
                 TransferEngine initiator = new TransferEngine(initiator(over(direct, List.of(proxy.endpoint()))))) {
                a.memory().fill((byte) 0xAA);
                b.memory().fill((byte) 0xBB);
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();

                proxy.holdNextData();
                // The only link stalls; the prober gives it a new session, and the fence goes over that one or
                // over TCP, whichever answers first; the resend follows the fence.
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, BLOCK))).await();
                assertThat(proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
                initiator.submit(List.of(TransferRequest.write(b.memory(), 0, "t", 0, BLOCK))).await();

                deliverHeld(proxy, target);

                assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory())).isEqualTo(-1);
                assertThat(initiator.fencedSlices()).isEqualTo(1);
                assertThat(initiator.aeronCounters().sessionsRenewed()).isPositive();
                assertThat(target.aeronCounters().fencesServed()).isEqualTo(1);
            }
        }
    }

    @Test
    void aWriteThatMissedItsDeadlineSettlesOnlyOnceItsLostSliceIsFenced() throws Exception {
        try (Slab remote = Slab.allocate(RANGE); Slab a = Slab.allocate(BLOCK); Slab b = Slab.allocate(BLOCK);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true))) {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            try (DelayingUdpProxy proxy = new DelayingUdpProxy(direct.aeronEndpoints().getFirst());
                 TransferEngine initiator = new TransferEngine(initiator(over(direct, List.of(proxy.endpoint()))))) {
                a.memory().fill((byte) 0xAA);
                b.memory().fill((byte) 0xBB);
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();

                proxy.holdNextData();
                // A's only slice is held; the request misses its deadline (100 ms) before the slice stalls (300 ms).
                BatchHandle late = initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, BLOCK)
                        .withTimeout(Duration.ofMillis(100))));
                assertThat(late.completion()).failsWithin(Duration.ofSeconds(10));
                assertThat(late.status(0)).isEqualTo(TransferStatus.TIMED_OUT);
                assertThat(late.settled()).as("A's slice is still held in the network").isNotDone();
                assertThat(late.settled()).succeedsWithin(Duration.ofSeconds(10));
                assertThat(proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
                assertThat(initiator.fencedSlices()).isEqualTo(1);
                // A's range, free once A settled, is reused for block B.
                initiator.submit(List.of(TransferRequest.write(b.memory(), 0, "t", 0, BLOCK))).await();

                deliverHeld(proxy, target);

                assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory()))
                        .as("block B after the late delivery of A's copy").isEqualTo(-1);
                assertThat(target.aeronCounters().fencesServed()).isEqualTo(1);
            }
        }
    }

    @Test
    void aCancelledWriteSettlesOnlyOnceItsLostSliceIsFenced() throws Exception {
        try (Slab remote = Slab.allocate(RANGE); Slab a = Slab.allocate(BLOCK); Slab b = Slab.allocate(BLOCK);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true))) {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            try (DelayingUdpProxy proxy = new DelayingUdpProxy(direct.aeronEndpoints().getFirst());
                 TransferEngine initiator = new TransferEngine(initiator(over(direct, List.of(proxy.endpoint()))))) {
                a.memory().fill((byte) 0xAA);
                b.memory().fill((byte) 0xBB);
                initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();

                proxy.holdNextData();
                BatchHandle cancelled = initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, BLOCK)));
                await().atMost(Duration.ofSeconds(10)).until(() -> proxy.heldBytes() >= BLOCK);
                assertThat(cancelled.cancel()).isEqualTo(1);
                assertThat(cancelled.status(0)).isEqualTo(TransferStatus.CANCELLED);
                assertThat(cancelled.settled()).as("A's slice is still held in the network").isNotDone();
                assertThat(cancelled.settled()).succeedsWithin(Duration.ofSeconds(10));
                assertThat(initiator.fencedSlices()).isEqualTo(1);
                initiator.submit(List.of(TransferRequest.write(b.memory(), 0, "t", 0, BLOCK))).await();

                deliverHeld(proxy, target);

                assertThat(remote.memory().asSlice(0, BLOCK).mismatch(b.memory()))
                        .as("block B after the late delivery of A's copy").isEqualTo(-1);
            }
        }
    }

    /** Releases what the proxy held and waits until the target has taken it: written, or dropped as fenced. */
    private static void deliverHeld(DelayingUdpProxy proxy, TransferEngine target) throws Exception {
        long written = target.aeronCounters().serving().bytesWritten();
        proxy.release();
        await("the held WRITE reaches the target's receiver").atMost(Duration.ofSeconds(10))
                .until(() -> proxy.heldDelivered() && (target.aeronCounters().fencedMessages() > 0
                        || target.aeronCounters().serving().bytesWritten() > written));
    }
}
