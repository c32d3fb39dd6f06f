package dev.ferry.transfer.transport.aeron;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.TransferException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import dev.ferry.transfer.transport.frame.SliceFrame;
import java.time.Duration;
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

    @Test
    void twoInitiatorsWritingAtOnceHaveTheirFragmentsKeptApart() throws Exception {
        int each = 16 << 20;
        try (Slab remote = Slab.allocate(2L * each); Slab a = Slab.allocate(each); Slab b = Slab.allocate(each);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true))) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            fill(a.memory(), 11);
            fill(b.memory(), 29);
            try (TransferEngine one = new TransferEngine(new TransferEngine.Context().aeron(true).resolver(n -> d));
                 TransferEngine two = new TransferEngine(new TransferEngine.Context().aeron(true).resolver(n -> d))) {
                var first = one.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, each)));
                var second = two.submit(List.of(TransferRequest.write(b.memory(), 0, "t", each, each)));
                first.await();
                second.await();
                assertThat(remote.memory().asSlice(0, each).mismatch(a.memory())).isEqualTo(-1);
                assertThat(remote.memory().asSlice(each, each).mismatch(b.memory())).isEqualTo(-1);
                assertThat(target.tcpCounters().bytesWritten()).isZero();
            }
        }
    }

    @Test
    void aWriteTheTargetRefusesFailsWithTheTargetsReasonAndIsNotRetried() {
        try (Slab remote = Slab.allocate(1 << 20); Slab local = Slab.allocate(4 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true))) {
            SegmentDescriptor real = target.registerSegment("t", remote.memory());
            // The initiator believes the segment is larger than it is: the target checks the range itself.
            SegmentDescriptor stale = new SegmentDescriptor("t", 4 << 20, real.endpoints(), "", "",
                    real.aeronEndpoints());
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .resolver(n -> stale))) {
                assertThatThrownBy(() -> initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t",
                        2 << 20, 1 << 20))).await())
                        .hasStackTraceContaining("OUT_OF_BOUNDS");
                assertThat(initiator.sliceRetries()).isZero();
            }
        }
    }

    @Test
    void aPayloadThatFailsItsCrcIsRefusedAndTheSameSliceWithTheRightCrcIsTaken() throws Exception {
        try (Slab remote = Slab.allocate(1 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true));
             RawAeronPeer peer = new RawAeronPeer()) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            var publication = peer.publicationTo(d.aeronEndpoints().getFirst());
            byte[] payload = new byte[200_000]; // several Aeron fragments
            for (int i = 0; i < payload.length; i++) {
                payload[i] = (byte) (i * 7 + 1);
            }
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(payload);
            int right = (int) crc.getValue();

            peer.sendWrite(publication, 1, "t", 4096, payload, right + 1);
            assertThat(peer.awaitAnswerStatus()).isEqualTo(3); // CRC_MISMATCH

            peer.sendWrite(publication, 2, "t", 4096, payload, right);
            assertThat(peer.awaitAnswerStatus()).isZero();
            assertThat(remote.memory().asSlice(4096, payload.length).mismatch(MemorySegment.ofArray(payload)))
                    .isEqualTo(-1);
            assertThat(target.aeronCounters().serving().crcMismatches()).isEqualTo(1);
        }
    }

    @Test
    void writesOutsideTheSegmentOrToAnUnknownSegmentAreRefusedByTheSharedCore() throws Exception {
        try (Slab remote = Slab.allocate(1 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true));
             RawAeronPeer peer = new RawAeronPeer()) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            var publication = peer.publicationTo(d.aeronEndpoints().getFirst());
            byte[] payload = new byte[100_000];
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(payload);
            peer.sendWrite(publication, 1, "t", (1 << 20) - 10, payload, (int) crc.getValue());
            assertThat(peer.awaitAnswerStatus()).isEqualTo(SliceFrame.Status.OUT_OF_BOUNDS.ordinal());
            peer.sendWrite(publication, 2, "no/such", 0, payload, (int) crc.getValue());
            assertThat(peer.awaitAnswerStatus()).isEqualTo(SliceFrame.Status.UNKNOWN_SEGMENT.ordinal());
            peer.sendWrite(publication, 3, "t", 0, payload, (int) crc.getValue());
            assertThat(peer.awaitAnswerStatus()).isZero();
            assertThat(target.aeronCounters().serving().refusals()).isEqualTo(2);
            assertThat(target.aeronCounters().serving().bytesWritten()).isEqualTo(payload.length);
        }
    }

    @Test
    void anExceptionInADutyCycleIsCountedByTheErrorHandlerAndReceiptGoesOn() throws Exception {
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        LinkedBlockingQueue<String> notes = new LinkedBlockingQueue<>();
        try (Slab remote = Slab.allocate(1 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true)
                     .notificationListener((segment, message) -> {
                         if (calls.incrementAndGet() == 1) {
                             throw new IllegalStateException("a listener that fails once");
                         }
                         notes.add(new String(message));
                     }));
             RawAeronPeer peer = new RawAeronPeer()) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            var publication = peer.publicationTo(d.aeronEndpoints().getFirst());
            peer.sendNotify(publication, 1, "t", "first".getBytes());
            await("the error handler counts the listener's exception").atMost(Duration.ofSeconds(30))
                    .until(() -> target.aeronCounters().errors() == 1);
            peer.sendNotify(publication, 2, "t", "second".getBytes());
            assertThat(peer.awaitAnswerStatus()).isZero();
            assertThat(notes.poll(10, TimeUnit.SECONDS)).isIn("first", "second");
            assertThat(target.aeronCounters().distinctErrors()).isEqualTo(1);
        }
    }

    @Test
    void aPeerThatDoesNotTakeItsAnswersNeverStopsReceipt() throws Exception {
        try (Slab remote = Slab.allocate(4 << 20); Slab local = Slab.allocate(4 << 20);
             // Answers to the greedy peer stay back-pressured for as long as this: far beyond the initiator's patience.
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true)
                     .stallTimeoutMillis(60_000));
             RawAeronPeer greedy = new RawAeronPeer()) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            var publication = greedy.publicationTo(d.aeronEndpoints().getFirst());
            for (int i = 1; i <= 32; i++) {
                greedy.sendRead(publication, i, "t", 0, 1 << 20); // 32 MiB of answers it never polls
            }
            await("the answers to the greedy peer are back-pressured").atMost(Duration.ofSeconds(30))
                    .until(() -> target.aeronCounters().answersBackPressured() > 0);
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .stallTimeoutMillis(1_000).maxAttempts(2).resolver(n -> d))) {
                fill(local.memory(), 13);
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 4 << 20))).await();
                MemorySegment back = Slab.allocate(4 << 20).memory();
                initiator.submit(List.of(TransferRequest.read(back, 0, "t", 0, 4 << 20))).await();
                assertThat(back.mismatch(local.memory())).isEqualTo(-1);
                assertThat(target.tcpCounters().bytesWritten()).isZero();
                assertThat(initiator.sliceRetries()).isZero();
            }
        }
    }

    @Test
    void theFirstSubmitToAPeerWhoseLinksDoNotConnectHoldsUpNeitherItsCallerNorASubmitToAnotherPeer() {
        try (Slab nearMemory = Slab.allocate(1 << 20); Slab farMemory = Slab.allocate(1 << 20);
             Slab local = Slab.allocate(1 << 20);
             TransferEngine near = new TransferEngine(new TransferEngine.Context().aeron(true));
             TransferEngine farTcp = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor nearD = near.registerSegment("near", nearMemory.memory());
            SegmentDescriptor farReal = farTcp.registerSegment("far", farMemory.memory());
            // Its Aeron endpoint has nobody behind it: the publication waits the whole connect timeout.
            SegmentDescriptor farD = new SegmentDescriptor("far", 1 << 20, farReal.endpoints(), "", "",
                    List.of(new Endpoint("127.0.0.1", 9)));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .connectTimeoutMillis(120_000).resolver(n -> n.equals("near") ? nearD : farD))) {
                fill(local.memory(), 3);
                var far = initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "far", 0, 1 << 20)));
                var toNear = initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "near", 0, 1 << 20)));
                await("the write to the reachable peer completes").atMost(Duration.ofSeconds(60))
                        .until(() -> toNear.completion().isDone());
                toNear.await();
                assertThat(nearMemory.memory().mismatch(local.memory())).isEqualTo(-1);
                assertThat(far.completion()).isNotDone(); // its connect still waits, on a healer thread of its own
            }
        }
    }

    @Test
    void aConnectedButSilentAeronPeerIsQuarantinedAndItsSlicesFailOverToTcp() throws Exception {
        try (Slab local = Slab.allocate(1 << 20); Slab remote = Slab.allocate(1 << 20);
             RawAeronPeer silent = new RawAeronPeer();
             TransferEngine tcpTarget = new TransferEngine(new TransferEngine.Context())) {
            silent.answering = false;
            silent.serve(new byte[0], 0);
            SegmentDescriptor tcp = tcpTarget.registerSegment("t", remote.memory());
            // Its Aeron publication connects (someone subscribes there), but nobody answers; its TCP endpoint serves.
            SegmentDescriptor d = new SegmentDescriptor("t", 1 << 20, tcp.endpoints(), "", "",
                    List.of(silent.endpoint));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .stallTimeoutMillis(200).maxAttempts(3).resolver(n -> d))) {
                fill(local.memory(), 5);
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 256 << 10))).await();
                assertThat(remote.memory().asSlice(0, 256 << 10).mismatch(local.memory().asSlice(0, 256 << 10)))
                        .isEqualTo(-1);
                assertThat(initiator.transportFailovers()).isPositive();
                assertThat(tcpTarget.tcpCounters().bytesWritten()).isEqualTo(256 << 10);
                AeronCounters counters = initiator.aeronCounters();
                assertThat(counters.stalledSlices()).isPositive();
                assertThat(counters.linksMarkedDown()).isEqualTo(1);
                assertThat(counters.probesUnanswered()).isPositive();
                assertThat(counters.readmissions()).isZero();
                var link = initiator.aeronLinks(d).getFirst();
                assertThat(link.isUp()).isFalse(); // the publication is connected, but the peer answers no probe
                assertThat(link.estimator().failures()).isPositive();
            }
        }
    }

    @Test
    void aQuarantinedAeronLinkIsReadmittedOnceItsPeerAnswersAProbe() throws Exception {
        try (Slab local = Slab.allocate(1 << 20); Slab remote = Slab.allocate(1 << 20);
             RawAeronPeer flaky = new RawAeronPeer();
             TransferEngine tcpTarget = new TransferEngine(new TransferEngine.Context())) {
            flaky.answering = false;
            flaky.serve(new byte[1 << 20], 0);
            SegmentDescriptor tcp = tcpTarget.registerSegment("t", remote.memory());
            SegmentDescriptor d = new SegmentDescriptor("t", 1 << 20, tcp.endpoints(), "", "",
                    List.of(flaky.endpoint));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .stallTimeoutMillis(200).maxAttempts(3).resolver(n -> d))) {
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 64 << 10))).await();
                long overTcp = tcpTarget.tcpCounters().bytesWritten();
                assertThat(overTcp).isEqualTo(64 << 10); // the Aeron link stalled and was quarantined

                flaky.answering = true;
                var link = initiator.aeronLinks(d).getFirst();
                await("the prober readmits the link").atMost(Duration.ofSeconds(30)).until(link::isUp);
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 64 << 10))).await();
                assertThat(flaky.writes.get()).isPositive();
                assertThat(tcpTarget.tcpCounters().bytesWritten()).isEqualTo(overTcp); // this time over Aeron
                assertThat(initiator.aeronCounters().readmissions()).isEqualTo(1);
                assertThat(initiator.aeronCounters().probesSent()).isGreaterThanOrEqualTo(2);
            }
        }
    }

    @Test
    void aReadWhoseAnswerFailsItsCrcIsResentAndLandsByteForByte() throws Exception {
        byte[] data = new byte[1 << 20];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 13 + 5);
        }
        try (RawAeronPeer corrupting = new RawAeronPeer();
             TransferEngine tcpOnly = new TransferEngine(new TransferEngine.Context())) {
            corrupting.serve(data, 1); // flips a byte in its first READ answer, keeping the right bytes' CRC32C
            SegmentDescriptor d = new SegmentDescriptor("t", data.length, List.of(tcpOnly.endpoint()), "", "",
                    List.of(corrupting.endpoint));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .resolver(n -> d))) {
                MemorySegment into = Slab.allocate(64 << 10).memory();
                initiator.submit(List.of(TransferRequest.read(into, 0, "t", 4096, 64 << 10))).await();
                assertThat(into.mismatch(MemorySegment.ofArray(data).asSlice(4096, 64 << 10))).isEqualTo(-1);
                assertThat(initiator.sliceRetries()).isEqualTo(1);
                assertThat(corrupting.reads.get()).isEqualTo(2);
                assertThat(initiator.transportFailovers()).isZero();
            }
        }
    }

    private static void fill(MemorySegment m, long seed) {
        for (long i = 0; i < m.byteSize(); i += 8) {
            m.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * seed + 7);
        }
    }
}
