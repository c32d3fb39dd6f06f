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
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A WRITE lost on an Aeron session to a target that is gone does not wait out the whole
 * fence timeout; one to a target whose media driver still takes the session (it may still
 * read the lost WRITE) does, whatever its TCP port says. Real engines, media drivers and
 * sockets.
 */
class AeronDeadPeerFenceTest {
    private static final int BLOCK = 4096;

    /**
     * The target engine closes (as its process would die) while a WRITE to it is held in the
     * network: no new session of the initiator connects there any more, and its TCP port
     * refuses connects, so the lost session is taken as fenced and the request fails well before
     * the fence timeout.
     */
    @Test
    void aWriteLostToATargetThatIsGoneFailsWithoutWaitingOutTheFence() throws Exception {
        long connect = 500;
        long stall = 1_000;
        Duration fenceTimeout = Duration.ofMillis(2 * (connect + stall));
        try (Slab remote = Slab.allocate(2 * BLOCK); Slab a = Slab.allocate(BLOCK)) {
            TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true));
            try {
                SegmentDescriptor direct = target.registerSegment("t", remote.memory());
                try (DelayingUdpProxy proxy = new DelayingUdpProxy(direct.aeronEndpoints().getFirst());
                     TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                             .connectTimeoutMillis(connect).stallTimeoutMillis(stall).sharedMemory(false)
                             .resolver(n -> new SegmentDescriptor("t", 2 * BLOCK, direct.endpoints(), "", "",
                                     List.of(proxy.endpoint()))))) {
                    initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", BLOCK, BLOCK))).await();
                    proxy.holdNextData();
                    BatchHandle handle = initiator.submit(List.of(TransferRequest.write(a.memory(), 0, "t", 0, BLOCK)));
                    await().atMost(Duration.ofSeconds(10)).until(() -> proxy.heldBytes() >= BLOCK);
                    target.close();
                    // Waiting the fence out would end it a stall plus a fence timeout after the send.
                    await().atMost(fenceTimeout).until(() -> handle.completion().isDone());
                    assertThat(handle.status(0)).isEqualTo(TransferStatus.FAILED);
                    assertThat(initiator.fencedSlices()).isEqualTo(1);
                    assertThat(initiator.aeronCounters().fencesOfPeersGone()).isEqualTo(1);
                }
            } finally {
                target.close();
            }
        }
    }

    /**
     * A target whose Aeron subscription takes the initiator's new session but never answers
     * (it may yet read the lost WRITE) is waited for in full, though its TCP port refuses: the
     * request fails as unconfirmed, and nothing is taken as fenced.
     */
    @Test
    void aTargetWhoseDriverStillTakesTheSessionIsWaitedForThoughItsTcpPortRefuses() throws Exception {
        Endpoint refusing;
        try (ServerSocket closed = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            refusing = new Endpoint("127.0.0.1", closed.getLocalPort());
        }
        try (Slab local = Slab.allocate(BLOCK); RawAeronPeer silent = new RawAeronPeer()) {
            silent.answering = false;
            silent.serve(new byte[0], 0);
            SegmentDescriptor d = new SegmentDescriptor("t", 1 << 20, List.of(refusing), "", "", List.of(silent.endpoint));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .connectTimeoutMillis(2_000).stallTimeoutMillis(200).sharedMemory(false).resolver(n -> d))) {
                BatchHandle handle = initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, BLOCK)));
                ExecutionException failed = org.assertj.core.api.Assertions.catchThrowableOfType(
                        ExecutionException.class, () -> handle.completion().get(30, TimeUnit.SECONDS));
                assertThat(failed).isNotNull();
                assertThat(failed.getCause()).hasMessageContaining("did not confirm");
                assertThat(initiator.aeronCounters().fencesOfPeersGone()).isZero();
                assertThat(initiator.fencedSlices()).isEqualTo(1);
            }
        }
    }
}
