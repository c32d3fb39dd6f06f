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

    /**
     * A target with one segment of {@link #RANGE} bytes, a proxy in front of its Aeron endpoint,
     * and an initiator that reaches it through the proxy (and directly too when asked), with
     * blocks A (0xAA) and B (0xBB) filled and one WRITE done so that the links are up.
     */
    private static final class Bed implements AutoCloseable {
        final Slab remote = Slab.allocate(RANGE);
        final Slab a = Slab.allocate(BLOCK);
        final Slab b = Slab.allocate(BLOCK);
        final TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true));
        final DelayingUdpProxy proxy;
        final TransferEngine initiator;

        Bed(boolean alsoDirect) throws Exception {
            SegmentDescriptor direct = target.registerSegment("t", remote.memory());
            Endpoint aeron = direct.aeronEndpoints().getFirst();
            proxy = new DelayingUdpProxy(aeron);
            TransferEngine engine = null;
            try {
                engine = new TransferEngine(initiator(over(direct,
                        alsoDirect ? List.of(proxy.endpoint(), aeron) : List.of(proxy.endpoint()))));
                a.memory().fill((byte) 0xAA);
                b.memory().fill((byte) 0xBB);
                engine.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();
            } catch (Exception | Error e) {
                try (remote; a; b; target; proxy; TransferEngine started = engine) {
                    throw e;
                }
            }
            initiator = engine;
        }

        BatchHandle write(Slab block) {
            return initiator.submit(List.of(TransferRequest.write(block.memory(), 0, "t", 0, BLOCK)));
        }

        /** Whether the target's first block holds B. */
        boolean holdsB() {
            return remote.memory().asSlice(0, BLOCK).mismatch(b.memory()) == -1;
        }

        @Override
        public void close() throws Exception {
            try (remote; a; b; target; proxy; initiator) {
                // closed in reverse order: the initiator first
            }
        }
    }

    @Test
    void aWriteHeldOnALostAeronSessionDoesNotOverwriteTheBlockWrittenAfterItsResend() throws Exception {
        try (Bed bed = new Bed(true)) {
            bed.proxy.holdNextData();
            // Block A: its slice is held on the first link (through the proxy), which stalls; resent on the other.
            bed.write(bed.a).await();
            assertThat(bed.proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
            assertThat(bed.initiator.sliceRetries()).isEqualTo(1);
            // A committed, freed, and its range reused for block B.
            bed.write(bed.b).await();
            assertThat(bed.holdsB()).isTrue();

            deliverHeld(bed);

            assertThat(bed.holdsB()).as("block B after the late delivery of A's first copy").isTrue();
            assertThat(bed.initiator.fencedSlices()).isEqualTo(1);
            assertThat(bed.target.aeronCounters().fencesServed()).isEqualTo(1);
            assertThat(bed.target.aeronCounters().fencedMessages()).isPositive();
        }
    }

    @Test
    void withOneAeronLinkTheResendWaitsForTheFenceOfItsLostSession() throws Exception {
        try (Bed bed = new Bed(false)) {
            bed.proxy.holdNextData();
            // The only link stalls; the prober gives it a new session, and the fence goes over that one or
            // over TCP, whichever answers first; the resend follows the fence.
            bed.write(bed.a).await();
            assertThat(bed.proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
            bed.write(bed.b).await();

            deliverHeld(bed);

            assertThat(bed.holdsB()).as("block B after the late delivery of A's copy").isTrue();
            assertThat(bed.initiator.fencedSlices()).isEqualTo(1);
            assertThat(bed.initiator.aeronCounters().sessionsRenewed()).isPositive();
            assertThat(bed.target.aeronCounters().fencesServed()).isEqualTo(1);
        }
    }

    @Test
    void aWriteThatMissedItsDeadlineSettlesOnlyOnceItsLostSliceIsFenced() throws Exception {
        try (Bed bed = new Bed(false)) {
            bed.proxy.holdNextData();
            // A's only slice is held; the request misses its deadline (100 ms) before the slice stalls (300 ms).
            BatchHandle late = bed.initiator.submit(List.of(TransferRequest.write(bed.a.memory(), 0, "t", 0, BLOCK)
                    .withTimeout(Duration.ofMillis(100))));
            assertThat(late.completion()).failsWithin(Duration.ofSeconds(10));
            assertThat(late.status(0)).isEqualTo(TransferStatus.TIMED_OUT);
            assertThat(late.settled()).as("A's slice is still held in the network").isNotDone();
            assertThat(late.settled()).succeedsWithin(Duration.ofSeconds(10));
            assertThat(bed.proxy.heldBytes()).isGreaterThanOrEqualTo(BLOCK);
            assertThat(bed.initiator.fencedSlices()).isEqualTo(1);
            // A's range, free once A settled, is reused for block B.
            bed.write(bed.b).await();

            deliverHeld(bed);

            assertThat(bed.holdsB()).as("block B after the late delivery of A's copy").isTrue();
            assertThat(bed.target.aeronCounters().fencesServed()).isEqualTo(1);
        }
    }

    @Test
    void aCancelledWriteSettlesOnlyOnceItsLostSliceIsFenced() throws Exception {
        try (Bed bed = new Bed(false)) {
            bed.proxy.holdNextData();
            BatchHandle cancelled = bed.write(bed.a);
            await().atMost(Duration.ofSeconds(10)).until(() -> bed.proxy.heldBytes() >= BLOCK);
            assertThat(cancelled.cancel()).isEqualTo(1);
            assertThat(cancelled.status(0)).isEqualTo(TransferStatus.CANCELLED);
            assertThat(cancelled.settled()).as("A's slice is still held in the network").isNotDone();
            assertThat(cancelled.settled()).succeedsWithin(Duration.ofSeconds(10));
            assertThat(bed.initiator.fencedSlices()).isEqualTo(1);
            bed.write(bed.b).await();

            deliverHeld(bed);

            assertThat(bed.holdsB()).as("block B after the late delivery of A's copy").isTrue();
        }
    }

    /** Releases what the proxy held and waits until the target has taken it: written, or dropped as fenced. */
    private static void deliverHeld(Bed bed) throws Exception {
        DelayingUdpProxy proxy = bed.proxy;
        TransferEngine target = bed.target;
        long written = target.aeronCounters().serving().bytesWritten();
        proxy.release();
        await("the held WRITE reaches the target's receiver").atMost(Duration.ofSeconds(10))
                .until(() -> proxy.heldDelivered() && (target.aeronCounters().fencedMessages() > 0
                        || target.aeronCounters().serving().bytesWritten() > written));
    }
}
