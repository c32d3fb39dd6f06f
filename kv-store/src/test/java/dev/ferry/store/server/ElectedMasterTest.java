package dev.ferry.store.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.node.StoreNode;
import dev.ferry.store.rpc.RpcException;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Masters elected in a real etcd, serving real RPC: one answers, the others refuse; clients,
 * store nodes and the blocks they hold follow the leader to the next one.
 */
class ElectedMasterTest {
    private static final Duration TTL = Duration.ofSeconds(2);
    private static final long BLOCK = 64 * 1024;

    @TempDir
    Path dir;
    private EtcdMasters bed;

    @BeforeEach
    void startEtcd() throws Exception {
        bed = EtcdMasters.start(dir, TTL);
    }

    @AfterEach
    void stop() throws Exception {
        bed.close();
    }

    private static List<ElectedMaster> leaders(List<ElectedMaster> all) {
        return all.stream().filter(ElectedMaster::leading).toList();
    }

    @Test
    void oneOfThreeMastersAnswersAndTheStandbysRefuseNamingTheLeader() {
        List<ElectedMaster> all = List.of(bed.master(), bed.master(), bed.master());
        await().atMost(Duration.ofSeconds(10)).until(() -> leaders(all).size() == 1);
        ElectedMaster leader = leaders(all).getFirst();
        try (MasterClient toLeader = new MasterClient("127.0.0.1", leader.port(), 2_000, 0)) {
            assertThat(toLeader.stats().nodes()).isZero();
            assertThat(toLeader.epoch()).isEqualTo(leader.epoch()).isPositive();
        }
        for (ElectedMaster standby : all) {
            if (standby == leader) {
                continue;
            }
            try (MasterClient toStandby = new MasterClient("127.0.0.1", standby.port(), 2_000, 0)) {
                assertThatThrownBy(toStandby::stats).isInstanceOfSatisfying(RpcException.class,
                                e -> assertThat(e.status()).isEqualTo(RpcException.NOT_LEADER))
                        .hasMessageContaining("is not the leader of cluster c1");
                // Named once the standby has read the leader's key (right after its own campaign lost).
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThatThrownBy(toStandby::stats)
                        .hasMessageContaining("the leader is at " + leader.address()));
            }
        }
    }

    @Test
    void aClientFollowsTheLeaderAcrossAHandoverWithoutAFailedCall() throws Exception {
        List<ElectedMaster> all = List.of(bed.master(), bed.master());
        await().atMost(Duration.ofSeconds(10)).until(() -> leaders(all).size() == 1);
        ElectedMaster first = leaders(all).getFirst();
        long firstEpoch = first.epoch();
        MasterClient client = bed.own(new MasterClient(bed.viaEtcd(), 2_000, 20_000));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger calls = new AtomicInteger();
        CompletableFuture<Void> caller = CompletableFuture.runAsync(() -> {
            while (!stop.get()) {
                client.lookupPrefix(BlockKey.ofAll(1, 2));
                calls.incrementAndGet();
            }
        });
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() > 10);
            assertThat(client.epoch()).isEqualTo(firstEpoch);
            first.close();
            ElectedMaster second = all.stream().filter(m -> m != first).findFirst().orElseThrow();
            await().atMost(TTL.plusSeconds(5)).until(second::leading);
            int before = calls.get();
            await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() > before + 10);
            assertThat(client.epoch()).isEqualTo(second.epoch()).isGreaterThan(firstEpoch);
            assertThat(client.target()).isEqualTo(second.address());
        } finally {
            stop.set(true);
        }
        caller.get(); // no call failed
    }

    @Test
    void aStoreNodeFollowsTheLeaderAndTheNewLeaderServesEveryCommittedBlock() throws Exception {
        List<ElectedMaster> all = List.of(bed.master(), bed.master());
        await().atMost(Duration.ofSeconds(10)).until(() -> leaders(all).size() == 1);
        ElectedMaster first = leaders(all).getFirst();
        MasterClient masterClient = bed.own(new MasterClient(bed.viaEtcd(), 5_000, 20_000));
        TransferEngine engine = bed.own(new TransferEngine(new TransferEngine.Context().resolver(masterClient)));
        Slab staging = bed.own(Slab.allocate(4 * BLOCK));
        StoreClient store = bed.own(new StoreClient(masterClient, engine, 10_000));
        StoreNode node = bed.own(StoreNode.start(new StoreNode.Config("n1", bed.viaEtcd(), 16 * BLOCK,
                new TransferEngine.Context(), dir, null, null, 0, "lru", 50, false, 0, 20_000)));
        BlockKey[] keys = BlockKey.ofAll(LongStream.rangeClosed(1, 8).toArray());
        store.put(keys, BLOCK, staging.memory(), BlockContent::fill);
        assertThat(first.service().master().stats().blocks()).isEqualTo(keys.length);

        first.close();
        ElectedMaster second = all.stream().filter(m -> m != first).findFirst().orElseThrow();
        await().atMost(TTL.plusSeconds(5)).until(second::leading);
        // The new leader starts empty; the node registers with what it holds.
        await().atMost(Duration.ofSeconds(20)).until(() -> second.service().master().stats().blocks() == keys.length);
        assertThat(node.registrations()).as("registrations again").isPositive();
        List<BlockKey> seen = new ArrayList<>();
        store.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
            assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
            seen.add(key);
        });
        assertThat(seen).containsExactlyInAnyOrder(keys);
        assertThat(masterClient.epoch()).isEqualTo(second.epoch());
    }

    @Test
    void mastersStoppedCleanlyLeaveNothingOfTheirClusterInEtcd() {
        List<ElectedMaster> all = List.of(bed.master(), bed.master(), bed.master());
        await().atMost(Duration.ofSeconds(10)).until(() -> leaders(all).size() == 1);
        all.forEach(ElectedMaster::close);
        try (var client = new dev.ferry.store.coord.EtcdClient(List.of(bed.etcd().uri()), Duration.ofSeconds(2))) {
            // At once, not after the lease's TTL: each leader revoked its lease as it stopped.
            assertThat(client.get(dev.ferry.store.coord.LeaderElection.leaderKey("c1"))).isEmpty();
        }
    }

    @Test
    void theLeaderStopsAnsweringWithinTheTtlWhenEtcdStops() throws Exception {
        ElectedMaster only = bed.master();
        await().atMost(Duration.ofSeconds(10)).until(only::leading);
        try (MasterClient direct = new MasterClient("127.0.0.1", only.port(), 2_000, 0)) {
            assertThat(direct.stats().nodes()).isZero();
            long stopped = System.nanoTime();
            bed.etcd().stop();
            await().atMost(TTL.plusMillis(500)).ignoreExceptionsMatching(e -> false).until(() -> {
                try {
                    direct.stats();
                    return false;
                } catch (RpcException e) {
                    assertThat(e.status()).isEqualTo(RpcException.NOT_LEADER);
                    return true;
                }
            });
            assertThat(Duration.ofNanos(System.nanoTime() - stopped)).isLessThanOrEqualTo(TTL.plusMillis(500));
            bed.etcd().start();
            await().atMost(Duration.ofSeconds(20)).until(only::leading);
            assertThat(direct.stats().nodes()).isZero();
        }
    }
}
