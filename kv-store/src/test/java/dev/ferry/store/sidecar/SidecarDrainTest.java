package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.client.DirectStoreClient;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterProtocol;
import dev.ferry.store.rpc.RpcServer;
import dev.ferry.transfer.TransferEngine;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shutdown drains: a request in flight (held inside a master that answers only when the
 * test lets it) finishes and is answered, requests arriving meanwhile get SHUTTING_DOWN,
 * and close() returns only after the request in flight is done.
 */
class SidecarDrainTest {
    @Test
    void closeWaitsForRequestsInFlightAndRefusesNewOnes(@TempDir Path dir) throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        ExecutorService masterThreads = Executors.newCachedThreadPool();
        RpcServer slowMaster = new RpcServer("127.0.0.1", 0, (method, in, out) -> {
            if (method == MasterProtocol.LOOKUP_PREFIX) {
                entered.countDown();
                try {
                    proceed.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                out.writeInt(7);
            }
        }, masterThreads);
        try (MasterClient master = new MasterClient("127.0.0.1", slowMaster.port(), 60_000);
             TransferEngine engine = new TransferEngine(new TransferEngine.Context());
             ExecutorService requests = Executors.newVirtualThreadPerTaskExecutor()) {
            DirectStoreClient store = new DirectStoreClient(master, engine, 10_000);
            SidecarMetrics metrics = new SidecarMetrics(new SimpleMeterRegistry());
            Sidecar.Context ctx = new Sidecar.Context().socketPath(dir.resolve("s.sock")).drainMillis(60_000)
                    .conclude();
            SidecarServer server = new SidecarServer(ctx, new SidecarOps(store, dir.toRealPath(), () -> 1, metrics,
                    ctx.maxFrameBytes()), metrics, requests, store::abort);
            try (SidecarClient busy = SidecarClient.connect(ctx.socketPath());
                 SidecarClient late = SidecarClient.connect(ctx.socketPath())) {
                try {
                    drain(server, ctx, busy, late, entered, proceed);
                } finally {
                    proceed.countDown(); // never leave the request thread blocked
                }
            }
        } finally {
            proceed.countDown();
            slowMaster.close();
            masterThreads.shutdownNow();
        }
    }

    private static void drain(SidecarServer server, Sidecar.Context ctx, SidecarClient busy, SidecarClient late,
                              CountDownLatch entered, CountDownLatch proceed) throws Exception {
        busy.raw(lookup(1), false);
        assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(server.inFlight()).isEqualTo(1);

        Thread closer = Thread.ofPlatform().start(server::close);
        await().until(server::draining);
        SidecarClient.Answer refused = late.raw(lookup(2), true);
        assertThat(refused.status()).isEqualTo(SHUTTING_DOWN);
        assertThat(closer.isAlive()).as("close() waits for the request in flight").isTrue();
        await().until(() -> !Files.exists(ctx.socketPath())); // removed at once: new clients fail fast
        assertThat(closer.isAlive()).isTrue();

        proceed.countDown();
        SidecarClient.Answer answered = busy.raw(new byte[0], true);
        assertThat(answered.status()).isEqualTo(OK);
        assertThat(ByteBuffer.wrap(answered.body()).order(ByteOrder.LITTLE_ENDIAN).getInt()).isEqualTo(7);
        closer.join();
        assertThat(server.inFlight()).isZero();
    }

    private static byte[] lookup(long id) {
        ByteBuffer b = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(24).putShort((short) LOOKUP_PREFIX).putShort((short) 0).putLong(id).putInt(1).putLong(5);
        return b.array();
    }
}
