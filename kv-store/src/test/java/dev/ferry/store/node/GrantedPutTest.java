package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.DirectStoreClient;
import dev.ferry.store.client.LengthConflictException;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterProtocol;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.testing.OpenResources;
import dev.ferry.transfer.TransferEngine;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Puts into the process's own store node through space the master granted ahead: one call of
 * the master per put, the same blocks and answers as the usual two calls, and no write into
 * granted space once the node registered again with a restarted master.
 */
class GrantedPutTest {
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

    private record Bed(MasterClient masterClient, StoreNode node, DirectStoreClient store) {
    }

    private Bed bed(int port, long heartbeatMillis) {
        MasterClient masterClient = own(new MasterClient("127.0.0.1", port, 5_000, 20_000));
        StoreNode node = own(StoreNode.start(new StoreNode.Config("n1", new HostPort("127.0.0.1", port), 64 * BLOCK,
                new TransferEngine.Context(), dir, null, heartbeatMillis)));
        DirectStoreClient store = own(new DirectStoreClient(masterClient, node.engine(), 10_000,
                new DirectStoreClient.LocalSegment(node.segment().name(), node.memory(), node::registrations,
                        node.commitIndex()), 0, 0));
        return new Bed(masterClient, node, store);
    }

    private MemorySegment[] values(BlockKey[] keys, long bytes) {
        Arena arena = own(Arena.ofConfined());
        MemorySegment[] values = new MemorySegment[keys.length];
        for (int i = 0; i < keys.length; i++) {
            values[i] = arena.allocate(bytes);
            BlockContent.fill(keys[i], values[i]);
        }
        return values;
    }

    private void assertReadable(DirectStoreClient store, BlockKey[] keys) {
        Arena arena = own(Arena.ofConfined());
        MemorySegment[] dest = new MemorySegment[keys.length];
        for (int i = 0; i < keys.length; i++) {
            dest[i] = arena.allocate(BLOCK);
        }
        assertThat(store.get(keys, replicas -> dest)).containsOnly(BLOCK);
        for (int i = 0; i < keys.length; i++) {
            assertThat(BlockContent.firstMismatch(keys[i], dest[i])).as("block %s", keys[i]).isEqualTo(-1);
        }
    }

    @Test
    void aPutCallsTheMasterOnceAndItsBlocksAreThere() {
        MasterService master = own(master(0));
        Bed bed = bed(master.port(), 50);
        for (long k = 1; k <= 16; k += 4) {
            BlockKey[] keys = BlockKey.ofAll(k, k + 1, k + 2, k + 3);
            assertThat(bed.store.put(keys, values(keys, BLOCK))).containsOnly(DirectStoreClient.STORED);
            // the node's index has them when the put returns, as after a usual commit
            for (BlockKey key : keys) {
                assertThat(bed.node.indexEntries()).anySatisfy(b -> assertThat(b.key()).isEqualTo(key));
            }
        }
        assertThat(bed.store.grantedPuts()).isEqualTo(16);
        assertThat(bed.masterClient.callTimes().calls(MasterProtocol.PUT_START)
                + bed.masterClient.callTimes().calls(MasterProtocol.PUT_START_NAMED)).isZero();
        assertThat(bed.masterClient.callTimes().calls(MasterProtocol.PUT_GRANTED)).isEqualTo(4);
        assertThat(bed.store.grantCalls()).isEqualTo(bed.masterClient.callTimes().calls(MasterProtocol.GRANT))
                .isBetween(1L, 4L);
        assertReadable(bed.store, BlockKey.ofAll(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16));

        // a stored key keeps its value; a key there with another length refuses the whole call
        BlockKey[] again = BlockKey.ofAll(1, 17);
        assertThat(bed.store.put(again, values(again, BLOCK))).containsExactly(DirectStoreClient.EXISTED,
                DirectStoreClient.STORED);
        BlockKey[] conflict = BlockKey.ofAll(18, 2);
        assertThatThrownBy(() -> bed.store.put(conflict, values(conflict, BLOCK / 2)))
                .isInstanceOf(LengthConflictException.class);
        assertThat(bed.masterClient.exists(BlockKey.ofAll(18))).containsExactly(false);
        assertReadable(bed.store, BlockKey.ofAll(1, 2, 17));

        // unused granted space goes back once puts stop
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            bed.store.returnIdleGrants();
            assertThat(bed.store.grantedBytes()).isZero();
            assertThat(bed.masterClient.stats().usedBytes()).isEqualTo(17 * BLOCK);
        });
    }

    @Test
    void afterAMasterRestartPutsGoOnAndNothingIsWrittenIntoFormerGrants() {
        MasterService first = master(0);
        int port = first.port();
        Bed bed = bed(port, 50);
        BlockKey[] before = BlockKey.ofAll(1, 2);
        bed.store.put(before, values(before, BLOCK));
        assertThat(bed.store.grantedBytes()).isPositive(); // granted by the first master
        first.close();

        MasterService second = own(master(port));
        await().atMost(Duration.ofSeconds(20)).until(() -> second.master().stats().blocks() == 2);
        // The second master never granted the first one's ranges: a writer of another node
        // gets them, and this node's puts must not land there.
        BlockKey[] others = BlockKey.ofAll(100, 101, 102, 103, 104, 105);
        java.util.List<dev.ferry.store.master.Placement> placed = second.master().putStart(others, BLOCK);
        for (var p : placed) {
            BlockContent.fill(p.key(), bed.node.memory().asSlice(p.offset(), BLOCK)); // the other writer's bytes
        }
        BlockKey[] after = BlockKey.ofAll(3, 4); // what the former grant had left: the usual target of a stale put
        assertThat(bed.store.put(after, values(after, BLOCK))).containsOnly(DirectStoreClient.STORED);
        for (var p : placed) {
            assertThat(BlockContent.firstMismatch(p.key(), bed.node.memory().asSlice(p.offset(), BLOCK)))
                    .as("the other writer's block %s", p.key()).isEqualTo(-1);
        }
        assertReadable(bed.store, BlockKey.ofAll(1, 2, 3, 4));
        assertThat(bed.store.grantedPuts()).isEqualTo(4);
    }
}
