package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.Replica;
import dev.ferry.store.server.MasterMain;
import dev.ferry.store.server.StoreNodeMain;
import dev.ferry.transfer.TransferEngine;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Warm restart with real processes: a store node with a data directory under /dev/shm is
 * killed with SIGKILL (or its master is) and comes back serving the blocks it held, byte
 * for byte; a block whose bytes were damaged meanwhile is dropped, and a put that was never
 * committed never appears.
 */
class WarmRestartTest {
    private static final long BLOCK = 64 * 1024 + 100;
    private static final long[] KEYS = LongStream.rangeClosed(1, 20).toArray();

    private final List<ChildProcess> processes = new ArrayList<>();
    private Path dataDir;
    private Path logs;
    private int masterPort;

    @BeforeEach
    void start() throws IOException {
        Path shm = Path.of("/dev/shm");
        dataDir = Files.createTempDirectory(Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")),
                "ferry-warm-");
        logs = Files.createTempDirectory("ferry-warm-logs-");
        try (ServerSocket s = new ServerSocket(0)) {
            masterPort = s.getLocalPort();
        }
    }

    @AfterEach
    void stop() throws IOException {
        processes.forEach(ChildProcess::kill);
        processes.forEach(ChildProcess::awaitExit);
        try (Stream<Path> files = Files.walk(dataDir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private ChildProcess master() {
        ChildProcess m = ChildProcess.start("master", List.of(), MasterMain.class.getName(),
                List.of("--port", Integer.toString(masterPort), "--node-timeout-ms", "1000"), logs.resolve("master.log"));
        processes.add(m);
        m.awaitReady();
        return m;
    }

    private ChildProcess node() {
        ChildProcess n = ChildProcess.start("store", List.of(), StoreNodeMain.class.getName(), List.of("--node-id", "n1",
                "--master", "127.0.0.1:" + masterPort, "--capacity", Long.toString(64 * 69_632),
                "--data-dir", dataDir.toString(), "--heartbeat-ms", "100"), logs.resolve("store.log"));
        processes.add(n);
        n.awaitReady();
        return n;
    }

    @Test
    void nodeKilledWithSigkillServesItsBlocksAgainAndDropsTheDamagedOne() throws IOException {
        master();
        ChildProcess node = node();
        assertThat(node.field("recovered")).isEqualTo("0");
        try (Client client = new Client(masterPort)) {
            client.store.put(BlockKey.ofAll(KEYS), BLOCK, client.staging.memory(), BlockContent::fill);
            client.master.putStart(BlockKey.ofAll(99), BLOCK); // never committed
            await().atMost(Duration.ofSeconds(10)).until(() -> client.master.stats().indexBacklog() == 0);
            Replica damaged = leaseOf(client.master, 5);

            node.kill();
            node.awaitExit();
            try (FileChannel slab = FileChannel.open(dataDir.resolve("dram.slab"), StandardOpenOption.WRITE)) {
                slab.write(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}), damaged.offset() + 1000);
            }

            ChildProcess again = node();
            assertThat(again.field("recovered")).isEqualTo("19");
            assertThat(again.field("dropped")).isEqualTo("1");
            long[] intact = LongStream.of(KEYS).filter(k -> k != 5).toArray();
            assertThat(client.master.exists(BlockKey.ofAll(5, 99))).containsExactly(false, false);
            assertEveryByte(client, intact);
        }
    }

    @Test
    void restartedMasterLearnsTheBlocksAgainFromTheNodesButNothingUncommitted() {
        ChildProcess master = master();
        node();
        try (Client client = new Client(masterPort)) {
            client.store.put(BlockKey.ofAll(KEYS), BLOCK, client.staging.memory(), BlockContent::fill);
            client.master.putStart(BlockKey.ofAll(99), BLOCK); // never committed
            await().atMost(Duration.ofSeconds(10)).until(() -> client.master.stats().indexBacklog() == 0);

            master.kill();
            master.awaitExit();
            master();
            await().atMost(Duration.ofSeconds(10)).until(() -> client.master.stats().blocks() == KEYS.length);
            assertThat(client.master.exists(BlockKey.ofAll(99))).containsExactly(false);
            assertThat(client.master.stats().pendingBlocks()).isZero();
            assertEveryByte(client, KEYS);
        }
    }

    private static Replica leaseOf(MasterClient master, long key) {
        Lease lease = master.get(BlockKey.ofAll(key), 1_000);
        master.release(lease.id());
        return lease.replicas().getFirst().getFirst();
    }

    private static void assertEveryByte(Client client, long[] keys) {
        List<Long> seen = new ArrayList<>();
        client.store.get(BlockKey.ofAll(keys), BLOCK, client.staging.memory(), (key, bytes, crc) -> {
            assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
            assertThat(BlockContent.crc32c(bytes)).isEqualTo(crc);
            seen.add(key.narrow());
        });
        assertThat(seen).containsExactly(LongStream.of(keys).boxed().toArray(Long[]::new));
    }

    /** A store client in the test JVM. */
    private static final class Client implements AutoCloseable {
        final MasterClient master;
        final TransferEngine engine;
        final Slab staging = Slab.allocate(4 * BLOCK);
        final StoreClient store;

        Client(int masterPort) {
            master = new MasterClient("127.0.0.1", masterPort, 5_000);
            engine = new TransferEngine(new TransferEngine.Context().resolver(master));
            store = new StoreClient(master, engine, 10_000);
        }

        @Override
        public void close() {
            engine.close();
            master.close();
            staging.close();
        }
    }
}
