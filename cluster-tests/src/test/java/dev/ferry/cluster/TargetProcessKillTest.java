package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.netns.SegmentServerMain;
import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.BatchHandle;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.TransferStatus;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.TransferException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A target process killed with SIGKILL in the middle of a transfer. */
class TargetProcessKillTest {
    @Test
    void theRequestFailsWithAClearErrorInsteadOfHanging(@TempDir Path dir) throws Exception {
        long bytes = 1L << 30;
        ChildProcess target = ChildProcess.start("target", List.of(), SegmentServerMain.class.getName(),
                List.of("--bytes", Long.toString(bytes), "--advertise", "127.0.0.1"), dir.resolve("target.log"));
        try (Slab local = Slab.allocate(bytes)) {
            int port = Integer.parseInt(target.field("port"));
            SegmentDescriptor d = new SegmentDescriptor("target/dram", bytes, new Endpoint("127.0.0.1", port));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().resolver(n -> d))) {
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "target/dram", 0, 1 << 20))).await();
                BatchHandle handle = initiator.submit(List.of(
                        TransferRequest.write(local.memory(), 0, "target/dram", 0, bytes)));
                TimeUnit.MILLISECONDS.sleep(100);
                target.kill();
                // A WRITE lost in flight does not wait out the fence (8 s here): the dead target ended its
                // connections and refuses connects, so nothing of them can land any more.
                await().atMost(Duration.ofSeconds(4)).until(() -> handle.completion().isDone());
                try {
                    handle.completion().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(TransferException.class)
                            .hasMessageContaining("no link to the peer is up");
                }
                assertThat(handle.status(0)).isEqualTo(TransferStatus.FAILED);
            }
        } finally {
            target.kill();
            target.awaitExit();
        }
    }
}
