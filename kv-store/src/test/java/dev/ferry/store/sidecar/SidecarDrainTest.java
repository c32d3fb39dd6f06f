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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests in flight when a connection or the sidecar closes, held inside a master that
 * answers LOOKUP_PREFIX only when the test lets it: shutdown waits for them (new requests
 * get SHUTTING_DOWN), and a disconnected client's session is closed only after its last
 * request finished.
 */
class SidecarDrainTest {
    private final CountDownLatch entered = new CountDownLatch(1);
    private final CountDownLatch proceed = new CountDownLatch(1);
    private final ExecutorService masterThreads = Executors.newCachedThreadPool();
    private final ExecutorService requests = Executors.newVirtualThreadPerTaskExecutor();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private RpcServer slowMaster;
    private MasterClient master;
    private TransferEngine engine;
    private Sidecar.Context ctx;
    private SidecarServer server;

    @BeforeEach
    void start(@TempDir Path dir) throws Exception {
        slowMaster = new RpcServer("127.0.0.1", 0, (method, in, out) -> {
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
        master = new MasterClient("127.0.0.1", slowMaster.port(), 60_000);
        engine = new TransferEngine(new TransferEngine.Context());
        DirectStoreClient store = new DirectStoreClient(master, engine, 10_000);
        SidecarMetrics metrics = new SidecarMetrics(registry);
        ctx = new Sidecar.Context().socketPath(dir.resolve("s.sock")).drainMillis(60_000).conclude();
        server = new SidecarServer(ctx, new SidecarOps(store, () -> 1, metrics,
                ctx.maxFrameBytes()), metrics, requests, store::abort);
    }

    @AfterEach
    void stop() {
        proceed.countDown(); // never leave a request thread blocked
        server.close();
        requests.close();
        engine.close();
        master.close();
        slowMaster.close();
        masterThreads.shutdownNow();
    }

    private double gauge(String name) {
        return registry.get(name).gauge().value();
    }

    @Test
    void closeWaitsForRequestsInFlightAndRefusesNewOnes() throws Exception {
        try (SidecarClient busy = SidecarClient.connect(ctx.socketPath(), 1);
             SidecarClient late = SidecarClient.connect(ctx.socketPath(), 1)) {
            busy.raw(lookup(1), false);
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(server.inFlight()).isEqualTo(1);

            Thread closer = Thread.ofPlatform().start(server::close);
            await().until(server::draining);
            SidecarClient.Answer refused = late.raw(lookup(2), true);
            assertThat(refused.status()).isEqualTo(SHUTTING_DOWN);
            await().until(() -> !Files.exists(ctx.socketPath())); // removed at once: new clients fail fast
            assertThat(closer.isAlive()).as("close() waits for the request in flight").isTrue();

            proceed.countDown();
            SidecarClient.Answer answered = busy.raw(new byte[0], true);
            assertThat(answered.status()).isEqualTo(OK);
            assertThat(ByteBuffer.wrap(answered.body()).order(ByteOrder.LITTLE_ENDIAN).getInt()).isEqualTo(7);
            closer.join();
            assertThat(server.inFlight()).isZero();
        }
    }

    @Test
    void disconnectedClientKeepsItsBuffersUntilItsLastRequestFinished() throws Exception {
        try (ShmFile shm = new ShmFile(64 * 1024)) {
            SidecarClient gone = SidecarClient.connect(ctx.socketPath(), 1);
            gone.registerBuffer(shm.path, 64 * 1024);
            gone.raw(lookup(1), false);
            assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
            gone.close();
            // The connection is gone but its request still runs: its session (and buffer) stays.
            await().until(() -> server.openConnections() == 0);
            server.quiesceEventLoops(); // the handler has seen the connection close
            assertThat(server.inFlight()).isEqualTo(1);
            assertThat(gauge("ferry.sidecar.buffers.bytes")).isEqualTo(64 * 1024);
            proceed.countDown();
            await().until(() -> gauge("ferry.sidecar.connections") == 0);
            assertThat(gauge("ferry.sidecar.buffers.bytes")).isZero();
        }
    }

    private static byte[] lookup(long id) {
        ByteBuffer b = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(24).putShort((short) LOOKUP_PREFIX).putShort((short) 0).putLong(id).putInt(1).putLong(5);
        return b.array();
    }
}
