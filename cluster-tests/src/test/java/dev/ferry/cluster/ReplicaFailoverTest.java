package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterStats;
import dev.ferry.store.server.MasterMain;
import dev.ferry.store.server.StoreNodeMain;
import dev.ferry.transfer.TransferEngine;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicas with real processes: blocks written twice, on two store nodes; one node is
 * killed with SIGKILL, and every block is still read, byte for byte, from the other.
 */
class ReplicaFailoverTest {
    private static final long BLOCK = 256 * 1024;

    private final List<ChildProcess> processes = new ArrayList<>();

    @AfterEach
    void stop() {
        processes.forEach(ChildProcess::kill);
        processes.forEach(ChildProcess::awaitExit);
    }

    private ChildProcess start(Path logs, String name, Class<?> main, String... args) {
        ChildProcess p = ChildProcess.start(name, List.of(), main.getName(), List.of(args), logs.resolve(name + ".log"));
        processes.add(p);
        p.awaitReady();
        return p;
    }

    @Test
    // The slab files live in the test's own directory: nodes killed with SIGKILL cannot remove them.
    void everyBlockIsReadFromTheSurvivingReplicaAfterANodeIsKilled(@TempDir Path logs) {
        String port = start(logs, "master", MasterMain.class, "--node-timeout-ms", "60000").field("port");
        String master = "127.0.0.1:" + port;
        ChildProcess first = start(logs, "store-1", StoreNodeMain.class, "--node-id", "store-1", "--master", master,
                "--capacity", Long.toString(64 * BLOCK), "--shm-dir", logs.toString());
        start(logs, "store-2", StoreNodeMain.class, "--node-id", "store-2", "--master", master,
                "--capacity", Long.toString(64 * BLOCK), "--shm-dir", logs.toString());
        long[] keys = LongStream.rangeClosed(1, 40).toArray();
        try (MasterClient masterClient = new MasterClient("127.0.0.1", Integer.parseInt(port), 5_000);
             // Over TCP: through shared memory a killed node's slab file would still be readable.
             TransferEngine engine = new TransferEngine(new TransferEngine.Context().sharedMemory(false)
                     .resolver(masterClient));
             Slab staging = Slab.allocate(8 * BLOCK);
             StoreClient store = new StoreClient(masterClient, engine, 10_000, 2, "store-1/dram")) {
            store.put(BlockKey.ofAll(keys), BLOCK, staging.memory(), BlockContent::fill);
            MasterStats written = masterClient.stats();
            assertThat(written.usedBytes()).isEqualTo(2 * keys.length * BLOCK);
            assertThat(written.underReplicated()).isZero();

            first.kill(); // holds the first replica of every block; the master's node timeout is a minute
            first.awaitExit();
            List<Long> seen = new ArrayList<>();
            store.get(BlockKey.ofAll(keys), BLOCK, staging.memory(), (key, bytes, crc) -> {
                assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
                seen.add(key.narrow());
            });
            assertThat(seen).hasSize(keys.length);
            // The failed read made the master probe store-1 and drop it at once.
            await().atMost(Duration.ofSeconds(5)).until(() -> masterClient.stats().nodes() == 1);
            MasterStats after = masterClient.stats();
            assertThat(after.lostBlocks()).isZero();
            assertThat(after.underReplicated()).isEqualTo(keys.length);
        }
    }
}
