package dev.ferry.store.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.PutResult;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.Placement;
import dev.ferry.store.node.StoreNode;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.transfer.TransferEngine;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Puts that a failover interrupts, with masters elected in a real etcd: a commit names the
 * epoch of the leader that started its put, the next leader refuses it as stale (publishing
 * nothing, not even keys it is having written by someone else), and the store client puts the
 * blocks again with the new leader.
 */
class PutAcrossFailoverTest {
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

    private ElectedMaster leaderOf(List<ElectedMaster> all) {
        await().atMost(Duration.ofSeconds(10)).until(() -> all.stream().filter(ElectedMaster::leading).count() == 1);
        return all.stream().filter(ElectedMaster::leading).findFirst().orElseThrow();
    }

    /** Closes the leader (it hands over) and waits until the other leads and the node registered with it. */
    private static ElectedMaster failOver(List<ElectedMaster> all, ElectedMaster leader) {
        leader.close();
        ElectedMaster next = all.stream().filter(m -> m != leader).findFirst().orElseThrow();
        await().atMost(TTL.plusSeconds(8)).until(next::leading);
        await().atMost(Duration.ofSeconds(20)).until(() -> next.service().master().stats().nodes() == 1);
        return next;
    }

    private StoreNode node() {
        return bed.own(StoreNode.start(new StoreNode.Config("n1", bed.viaEtcd(), 64 * BLOCK,
                new TransferEngine.Context(), dir, null, null, 0, "lru", 50, false, 0, 20_000)));
    }

    @Test
    void aCommitOfAPutThatAFormerLeaderStartedFailsAsStaleAndPublishesNothing() {
        List<ElectedMaster> all = List.of(bed.master(), bed.master());
        ElectedMaster first = leaderOf(all);
        node();
        await().atMost(Duration.ofSeconds(10)).until(() -> first.service().master().stats().nodes() == 1);
        MasterClient writer = bed.own(new MasterClient(bed.viaEtcd(), 2_000, 20_000));
        BlockKey[] keys = BlockKey.ofAll(11, 12, 13);
        int[] crcs = {1, 2, 3};
        List<Placement> placements = writer.putStart(keys, BLOCK);
        assertThat(placements).hasSize(keys.length).noneMatch(Placement::exists);
        long startedUnder = writer.epoch();

        ElectedMaster second = failOver(all, first);
        // Another writer puts the same keys with the new leader, and is still writing them.
        MasterClient other = bed.own(new MasterClient(bed.viaEtcd(), 2_000, 20_000));
        other.putStart(keys, BLOCK);

        assertThatThrownBy(() -> writer.putCommit(keys, crcs))
                .isInstanceOfSatisfying(RpcException.class, e -> assertThat(e.status()).isEqualTo(RpcException.STALE_PUT))
                .hasMessageContaining("started under epoch " + startedUnder)
                .hasMessageContaining("former leader")
                .hasMessageContaining("epoch " + second.epoch());
        // Nothing was published: the other writer's blocks are still being written.
        assertThat(second.service().master().exists(keys)).containsOnly(false);
        assertThat(second.service().master().stats().pendingBlocks()).isEqualTo(keys.length);
    }

    @Test
    void aPutThatAFailoverInterruptsIsPutAgainWithTheNewLeaderAndReadsBackIntact() {
        List<ElectedMaster> all = List.of(bed.master(), bed.master());
        ElectedMaster first = leaderOf(all);
        node();
        await().atMost(Duration.ofSeconds(10)).until(() -> first.service().master().stats().nodes() == 1);
        MasterClient masterClient = bed.own(new MasterClient(bed.viaEtcd(), 2_000, 20_000));
        TransferEngine engine = bed.own(new TransferEngine(new TransferEngine.Context().resolver(masterClient)));
        Slab staging = bed.own(Slab.allocate(8 * BLOCK));
        StoreClient store = bed.own(new StoreClient(masterClient, engine, 10_000));
        BlockKey[] keys = BlockKey.ofAll(LongStream.rangeClosed(1, 6).toArray());
        AtomicInteger fills = new AtomicInteger();
        ElectedMaster[] next = new ElectedMaster[1];
        // The leader that started the put goes away while its blocks are being written.
        PutResult result = store.put(keys, BLOCK, staging.memory(), (key, out) -> {
            if (fills.getAndIncrement() == 0) {
                next[0] = failOver(all, first);
            }
            BlockContent.fill(key, out);
        });

        assertThat(result.written()).isEqualTo(keys.length);
        assertThat(fills.get()).as("blocks filled: once for the stale put, again for the new leader")
                .isEqualTo(2 * keys.length);
        assertThat(next[0].service().master().exists(keys)).containsOnly(true);
        List<BlockKey> seen = new ArrayList<>();
        store.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
            assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
            seen.add(key);
        });
        assertThat(seen).containsExactlyInAnyOrder(keys);
    }
}
