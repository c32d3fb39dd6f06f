package dev.ferry.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Connecting to a new peer happens off the submitting thread: a peer whose connect hangs
 * holds up neither the submit that named it nor a submit to another peer.
 */
class ConnectOffTheCallerTest {
    @Test
    void theFirstSubmitToAPeerWhoseConnectHangsHoldsUpNeitherItsCallerNorASubmitToAnotherPeer() throws Exception {
        List<Socket> fillers = new ArrayList<>();
        // A listener that never accepts, its backlog full: the kernel drops further SYNs, so a connect hangs.
        try (ServerSocket hanging = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Slab nearMemory = Slab.allocate(1 << 20); Slab local = Slab.allocate(1 << 20);
             TransferEngine near = new TransferEngine(new TransferEngine.Context())) {
            for (int i = 0; i < 2; i++) {
                Socket filler = new Socket();
                filler.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), hanging.getLocalPort()), 5_000);
                fillers.add(filler);
            }
            SegmentDescriptor nearD = near.registerSegment("near", nearMemory.memory());
            SegmentDescriptor farD = new SegmentDescriptor("far", 1 << 20,
                    new Endpoint("127.0.0.1", hanging.getLocalPort()));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(1)
                    .sharedMemory(false).connectTimeoutMillis(120_000)
                    .resolver(n -> n.equals("near") ? nearD : farD))) {
                local.memory().fill((byte) 7);
                BatchHandle far = initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "far", 0, 4096)));
                BatchHandle toNear = initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "near", 0,
                        1 << 20)));
                await("the write to the reachable peer completes").atMost(Duration.ofSeconds(60))
                        .until(() -> toNear.completion().isDone());
                toNear.await();
                assertThat(nearMemory.memory().mismatch(local.memory())).isEqualTo(-1);
                assertThat(far.completion()).isNotDone(); // its connect still hangs, on a healer thread of its own
            }
        } finally {
            for (Socket filler : fillers) {
                filler.close();
            }
        }
    }
}
