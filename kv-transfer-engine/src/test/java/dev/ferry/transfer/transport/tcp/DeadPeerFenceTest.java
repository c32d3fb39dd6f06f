package dev.ferry.transfer.transport.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.BatchHandle;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.TransferStatus;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/**
 * A WRITE lost in flight to a target that is gone does not wait out the whole fence timeout;
 * one that may still land (the target never closed the connection) does. Real engines and
 * sockets; the target that lingers is a plain socket server.
 */
class DeadPeerFenceTest {
    private static final long CONNECT_MILLIS = 2_000;
    private static final long STALL_MILLIS = 2_000;
    /** What a fence is tried for before it fails: twice the connect plus stall timeouts. */
    private static final Duration FENCE_TIMEOUT = Duration.ofMillis(2 * (CONNECT_MILLIS + STALL_MILLIS));

    /**
     * The target engine closes (as its process would die) while a large WRITE streams into it:
     * it ends the connections and then refuses connects, so the slices lost in flight are
     * taken as fenced and the request fails well before the fence timeout.
     */
    @Test
    void aWriteLostToATargetThatIsGoneFailsWithoutWaitingOutTheFence() throws Exception {
        long bytes = 512L << 20;
        try (Slab remote = Slab.allocate(bytes); Slab local = Slab.allocate(bytes)) {
            TransferEngine target = new TransferEngine(new TransferEngine.Context().sharedMemory(false));
            SegmentDescriptor d;
            try {
                d = target.registerSegment("t", remote.memory());
            } catch (RuntimeException e) {
                target.close();
                throw e;
            }
            SegmentDescriptor remoteOnly = new SegmentDescriptor(d.name(), d.bytes(), d.endpoints(), "another-host", "",
                    List.of(), null);
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(2)
                    .connectTimeoutMillis(CONNECT_MILLIS).stallTimeoutMillis(STALL_MILLIS).sharedMemory(false)
                    .resolver(n -> remoteOnly))) {
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 1 << 20))).await();
                BatchHandle handle = initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, bytes)));
                await().atMost(Duration.ofSeconds(10)).until(() -> initiator.links(remoteOnly).stream()
                        .anyMatch(l -> l.inFlightBytes() > 0));
                long closed = System.nanoTime();
                target.close();
                await().atMost(FENCE_TIMEOUT.dividedBy(2)).until(() -> handle.completion().isDone());
                System.out.printf("a WRITE lost to a target that closed failed %.0f ms after the close (fence timeout "
                        + "%d ms)%n", (System.nanoTime() - closed) / 1e6, FENCE_TIMEOUT.toMillis());
                assertThat(handle.status(0)).isEqualTo(TransferStatus.FAILED);
                assertThat(initiator.fencedSlices()).as("WRITE slices lost in flight").isPositive();
                // Most often the fence completes as the peer's (fencesOfPeersGone); while the
                // target is still closing, its other link may confirm it with FENCE_ACK instead:
                // either way well before the fence timeout, which is what this test holds to.
            } finally {
                target.close();
            }
        }
    }

    /**
     * A target that stops listening but keeps the connection open (it stalled, and this side
     * cut it) may still read the lost WRITE: the fence is waited for in full, and fails.
     */
    @Test
    void aTargetThatStopsListeningButNeverClosedTheConnectionIsWaitedFor() throws Exception {
        List<Socket> accepted = new CopyOnWriteArrayList<>();
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    Socket s = server.accept(); // reads only the HELLO: later frames stall in the socket buffers
                    accepted.add(s);
                    InputStream in = s.getInputStream();
                    in.readNBytes(40);
                }
            } catch (java.io.IOException e) {
                // the server closed
            }
        });
        long connect = 200;
        long stall = 200;
        SegmentDescriptor d = new SegmentDescriptor("t", 64L << 20, new Endpoint("127.0.0.1", server.getLocalPort()));
        SegmentDescriptor remoteOnly = new SegmentDescriptor(d.name(), d.bytes(), d.endpoints(), "another-host", "",
                List.of(), null);
        try (Slab local = Slab.allocate(64L << 20);
             TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(1)
                     .connectTimeoutMillis(connect).stallTimeoutMillis(stall).sharedMemory(false)
                     .resolver(n -> remoteOnly))) {
            BatchHandle handle = initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 64L << 20)));
            await().atMost(Duration.ofSeconds(10)).until(() -> !accepted.isEmpty());
            server.close(); // refuses from now on; the accepted connection stays open
            ExecutionException failed = org.assertj.core.api.Assertions.catchThrowableOfType(ExecutionException.class,
                    () -> handle.completion().get(30, java.util.concurrent.TimeUnit.SECONDS));
            assertThat(failed).isNotNull();
            assertThat(failed.getCause()).hasMessageContaining("did not confirm");
            assertThat(initiator.fencesOfPeersGone()).isZero();
        } finally {
            server.close();
            for (Socket s : accepted) {
                s.close();
            }
            acceptor.join();
        }
    }
}
