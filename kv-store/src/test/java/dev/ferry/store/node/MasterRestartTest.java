package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.testing.OpenResources;
import dev.ferry.transfer.TransferEngine;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A master that goes away and comes back on the same port (a restart): clients wait for it
 * within their reconnect deadline, fail naming it after, store nodes register again with
 * what they hold, and a commit is in the holding node's index when it is acknowledged.
 */
class MasterRestartTest {
    private static final long BLOCK = 64 * 1024;

    @TempDir
    Path dir;
    private final OpenResources open = new OpenResources();

    @AfterEach
    void close() throws Exception {
        open.close();
    }

    private <T extends AutoCloseable> T own(T resource) {
        return open.own(resource);
    }

    private static MasterService master(int port) {
        return new MasterService("127.0.0.1", port, new LruPolicy(), 60_000);
    }

    @Test
    void callsMadeWhileTheMasterRestartsSucceedOnceItIsBack() throws Exception {
        MasterService first = master(0);
        int port = first.port();
        MasterClient client = own(new MasterClient("127.0.0.1", port, 2_000, 20_000));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<Void> caller = CompletableFuture.runAsync(() -> {
            while (!stop.get()) {
                client.stats();
                calls.incrementAndGet();
            }
        });
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() > 10);
            first.close();
            int before = calls.get();
            // Calls now wait for the master: none succeeds while it is away.
            assertThat(caller).isNotDone();
            MasterService second = own(master(port));
            await().atMost(Duration.ofSeconds(20)).until(() -> calls.get() > before + 10);
            assertThat(second.master().stats().nodes()).isZero();
        } finally {
            stop.set(true);
        }
        caller.get(); // no call failed
    }

    @Test
    void aMasterThatStaysAwayFailsCallsAfterTheDeadlineNamingIt() {
        MasterService gone = master(0);
        int port = gone.port();
        MasterClient client = own(new MasterClient("127.0.0.1", port, 2_000, 300));
        client.stats();
        gone.close();
        assertThatThrownBy(() -> client.lookupPrefix(BlockKey.ofAll(1, 2)))
                .isInstanceOfSatisfying(RpcException.class, e -> assertThat(e.status()).isEqualTo(RpcException.UNAVAILABLE))
                .hasMessageContaining("master at 127.0.0.1:" + port)
                .hasMessageContaining("unreachable for 300 ms");
    }

    @Test
    void aStoreNodeWithoutDataDirRegistersWhatItHoldsWithARestartedMaster() throws Exception {
        MasterService first = master(0);
        int port = first.port();
        MasterClient masterClient = own(new MasterClient("127.0.0.1", port, 5_000, 20_000));
        TransferEngine engine = own(new TransferEngine(new TransferEngine.Context().resolver(masterClient)));
        Slab staging = own(Slab.allocate(4 * BLOCK));
        StoreClient store = own(new StoreClient(masterClient, engine, 10_000));
        StoreNode node = own(StoreNode.start(new StoreNode.Config("n1", new HostPort("127.0.0.1", port), 16 * BLOCK,
                new TransferEngine.Context(), dir, null, 50)));
        long[] keys = LongStream.rangeClosed(1, 8).toArray();
        store.put(BlockKey.ofAll(keys), BLOCK, staging.memory(), BlockContent::fill);
        first.close();

        MasterService second = own(master(port));
        await().atMost(Duration.ofSeconds(20)).until(() -> second.master().stats().blocks() == keys.length);
        assertThat(node.registrations()).isPositive();
        List<Long> seen = new ArrayList<>();
        store.get(BlockKey.ofAll(keys), BLOCK, staging.memory(), (key, bytes, crc) -> {
            assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
            seen.add(key.narrow());
        });
        assertThat(seen).containsExactlyInAnyOrderElementsOf(LongStream.of(keys).boxed().toList());
    }

    @Test
    void anAcknowledgedCommitIsAlreadyInTheHoldingNodesIndex() {
        MasterService master = own(master(0));
        MasterClient masterClient = own(new MasterClient("127.0.0.1", master.port(), 5_000));
        TransferEngine engine = own(new TransferEngine(new TransferEngine.Context().resolver(masterClient)));
        Slab staging = own(Slab.allocate(4 * BLOCK));
        StoreClient store = own(new StoreClient(masterClient, engine, 10_000));
        // A heartbeat a minute apart: only the commit path itself can bring the index up to date.
        own(StoreNode.start(new StoreNode.Config("n1", new HostPort("127.0.0.1", master.port()), 64 * BLOCK,
                new TransferEngine.Context(), dir, dir.resolve("data"), 60_000)));
        for (long k = 1; k <= 32; k += 4) {
            store.put(BlockKey.ofAll(k, k + 1, k + 2, k + 3), BLOCK, staging.memory(), BlockContent::fill);
            // No update of the commit is left unacknowledged by the node once the put returns.
            assertThat(masterClient.stats().indexBacklog()).isZero();
        }
        assertThat(masterClient.stats().blocks()).isEqualTo(32);
    }

    @Test
    void aCommitReachingARestartedMasterThatNeverSawThePutFailsInsteadOfVanishing() {
        MasterService first = master(0);
        int port = first.port();
        MasterClient client = own(new MasterClient("127.0.0.1", port, 5_000, 20_000));
        dev.ferry.transfer.segment.SegmentDescriptor segment = new dev.ferry.transfer.segment.SegmentDescriptor("s",
                16 * BLOCK, new dev.ferry.transfer.segment.Endpoint("127.0.0.1", 1));
        client.register("n1", segment);
        assertThat(client.putStart(BlockKey.ofAll(1, 2), BLOCK)).hasSize(2);
        first.close();
        MasterService second = own(master(port));
        second.master().registerNode("n1", segment);
        assertThatThrownBy(() -> client.putCommit(BlockKey.ofAll(1, 2), new int[] {11, 22}))
                .isInstanceOfSatisfying(RpcException.class, e -> assertThat(e.status()).isEqualTo(RpcException.CONFLICT))
                .hasMessageContaining("2 of 2 committed keys (first: " + BlockKey.of(1) + ") are not being written");
        assertThat(client.exists(BlockKey.ofAll(1, 2))).containsExactly(false, false);
    }
}
