package dev.ferry.store.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.coord.LocalEtcd;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.node.StoreNode;
import dev.ferry.transfer.TransferEngine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ferry master --etcd} as real processes: three masters, the leader SIGKILLed (its lease
 * is not revoked; it runs out), a standby takes over with a higher epoch and a client follows.
 */
class MasterProcessFailoverTest {
    private static final Pattern PORT = Pattern.compile("FERRY-READY role=master port=(\\d+) cluster=c1");
    private static final int TTL_SECONDS = 2;
    private static final long BLOCK = 64 * 1024;

    @TempDir
    Path dir;
    private LocalEtcd etcd;
    private final List<Process> masters = new ArrayList<>();

    @BeforeEach
    void startEtcd() throws Exception {
        etcd = LocalEtcd.start(dir);
    }

    @AfterEach
    void stop() throws Exception {
        for (Process p : masters) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        etcd.close();
    }

    private record Master(Process process, int port) {
    }

    private Master startMaster(int index) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = dir.resolve("master-" + index + ".log");
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), MasterMain.class.getName(),
                "--etcd", etcd.address(), "--cluster-id", "c1", "--lease-ttl", TTL_SECONDS + "s")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        masters.add(p);
        int[] port = new int[1];
        await("master " + index + " ready (" + log + ")").atMost(Duration.ofSeconds(30)).until(() -> {
            assertThat(p.isAlive()).as("master %d alive: %s", index, Files.readString(log)).isTrue();
            Matcher m = PORT.matcher(Files.readString(log));
            if (m.find()) {
                port[0] = Integer.parseInt(m.group(1));
                return true;
            }
            return false;
        });
        return new Master(p, port[0]);
    }

    @Test
    void aStandbyProcessTakesOverFromAKilledLeaderWithAHigherEpochAndTheClientFollows() throws Exception {
        List<Master> all = List.of(startMaster(0), startMaster(1), startMaster(2));
        try (MasterClient client = new MasterClient(MasterAddress.parse("etcd://" + etcd.address() + "/c1"), 2_000,
                30_000)) {
            assertThat(client.stats().nodes()).isZero();
            long firstEpoch = client.epoch();
            assertThat(firstEpoch).isPositive();
            String leaderAddress = client.target();
            Master leader = all.stream().filter(m -> leaderAddress.endsWith(":" + m.port())).findFirst().orElseThrow();

            long killed = System.nanoTime();
            leader.process().destroyForcibly(); // SIGKILL: its lease runs out, nobody revokes it
            assertThat(leader.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(client.stats().nodes()).isZero(); // waits for the new leader, within the deadline
            long takeoverMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            System.out.println("takeover after SIGKILL of the leader: " + takeoverMillis + " ms (lease TTL "
                    + TTL_SECONDS + " s)");

            assertThat(client.epoch()).isGreaterThan(firstEpoch);
            assertThat(client.target()).isNotEqualTo(leaderAddress);
            // Within the TTL, the watch's reaction and a client retry (2 cores shared by 5 JVMs and etcd).
            assertThat(takeoverMillis).isLessThan(TimeUnit.SECONDS.toMillis(TTL_SECONDS) + 5_000);
        }
    }

    @Test
    void committedBlocksSurviveTheKillOfTheLeaderAndTheNewLeaderCommitsAfterTheTtl() throws Exception {
        List<Master> all = List.of(startMaster(0), startMaster(1));
        MasterAddress viaEtcd = MasterAddress.parse("etcd://" + etcd.address() + "/c1");
        try (MasterClient masterClient = new MasterClient(viaEtcd, 5_000, 30_000);
             TransferEngine engine = new TransferEngine(new TransferEngine.Context().resolver(masterClient));
             Slab staging = Slab.allocate(4 * BLOCK);
             StoreClient store = new StoreClient(masterClient, engine, 10_000);
             StoreNode node = StoreNode.start(new StoreNode.Config("n1", viaEtcd, 64 * BLOCK,
                     new TransferEngine.Context(), dir, null, null, 0, "lru", 100, false, 0, 30_000))) {
            BlockKey[] keys = BlockKey.ofAll(LongStream.rangeClosed(1, 16).toArray());
            store.put(keys, BLOCK, staging.memory(), BlockContent::fill);
            assertThat(masterClient.stats().blocks()).isEqualTo(keys.length);
            long firstEpoch = masterClient.epoch();
            String leaderAddress = masterClient.target();
            Master leader = all.stream().filter(m -> leaderAddress.endsWith(":" + m.port())).findFirst().orElseThrow();

            long killed = System.nanoTime();
            leader.process().destroyForcibly();
            // The first commit on the new leader (it needs the node registered again: a put
            // before that finds no room and is tried again).
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
                    .until(() -> store.put(BlockKey.ofAll(100), BLOCK, staging.memory(), BlockContent::fill).written() == 1);
            long takeoverMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            System.out.println("first commit on the new leader after SIGKILL of the leader: " + takeoverMillis
                    + " ms (lease TTL " + TTL_SECONDS + " s)");

            assertThat(masterClient.epoch()).isGreaterThan(firstEpoch);
            assertThat(masterClient.stats().blocks()).as("no committed block lost").isEqualTo(keys.length + 1);
            List<BlockKey> seen = new ArrayList<>();
            store.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
                assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
                seen.add(key);
            });
            assertThat(seen).containsExactlyInAnyOrder(keys);
        }
    }
}
