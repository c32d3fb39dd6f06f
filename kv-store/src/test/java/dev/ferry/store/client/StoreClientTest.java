package dev.ferry.store.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.transfer.TransferEngine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A master, a store node's engine and slab, and a client engine, in one JVM over loopback. */
class StoreClientTest {
    private static final long BLOCK = 256 * 1024 + 8;
    private MasterService master;
    private Slab slab;
    private TransferEngine storeEngine;
    private MasterClient masterClient;
    private TransferEngine clientEngine;
    private Slab staging;
    private StoreClient store;

    @BeforeEach
    void start() {
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000);
        slab = Slab.allocate(8 * 266_240);
        storeEngine = new TransferEngine(new TransferEngine.Context());
        masterClient = new MasterClient("127.0.0.1", master.port(), 5_000);
        masterClient.register("s1", storeEngine.registerSegment("s1/dram", slab.memory()));
        clientEngine = new TransferEngine(new TransferEngine.Context().resolver(masterClient));
        staging = Slab.allocate(3 * BLOCK);
        store = new StoreClient(masterClient, clientEngine, 10_000);
    }

    @AfterEach
    void stop() {
        clientEngine.close();
        masterClient.close();
        storeEngine.close();
        master.close();
        slab.close();
        staging.close();
    }

    @Test
    void putThenGetReturnsEveryByteOfEveryBlock() {
        BlockKey[] keys = BlockKey.ofAll(10, 11, 12, 13, 14);
        PutResult put = store.put(keys, BLOCK, staging.memory(), BlockContent::fill);
        assertThat(put.written()).isEqualTo(5);
        assertThat(store.lookupPrefix(BlockKey.ofAll(10, 11, 99, 13))).isEqualTo(2);

        List<BlockKey> seen = new ArrayList<>();
        GetResult got = store.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
            assertThat(BlockContent.firstMismatch(key, bytes)).isEqualTo(-1);
            assertThat(BlockContent.crc32c(bytes)).isEqualTo(crc);
            seen.add(key);
        });
        assertThat(seen).containsExactly(BlockKey.ofAll(10, 11, 12, 13, 14));
        assertThat(got.bytes()).isEqualTo(5 * BLOCK);
        assertThat(store.put(keys, BLOCK, staging.memory(), BlockContent::fill).existed()).isEqualTo(5);
    }

    @Test
    void unknownKeyIsAClearErrorAndReleasesTheLease() {
        store.put(BlockKey.ofAll(1), BLOCK, staging.memory(), BlockContent::fill);
        assertThatThrownBy(() -> store.get(BlockKey.ofAll(1, 2), BLOCK, staging.memory(), (k, b, c) -> { }))
                .isInstanceOf(StoreException.class).hasMessageContaining("block key " + BlockKey.of(2) + " is not in the store");
        assertThat(master.master().stats().leases()).isZero();
    }

    @Test
    void fullStoreEvictsOldBlocksAndTooSmallStagingIsRefused() {
        for (long k = 0; k < 20; k++) {
            store.put(BlockKey.ofAll(k), BLOCK, staging.memory(), BlockContent::fill);
        }
        assertThat(master.master().stats().blocks()).isEqualTo(8);
        assertThat(store.lookupPrefix(BlockKey.ofAll(19))).isEqualTo(1);
        assertThat(store.lookupPrefix(BlockKey.ofAll(0))).isZero();
        assertThatThrownBy(() -> store.put(BlockKey.ofAll(100), BLOCK, staging.memory().asSlice(0, 100), BlockContent::fill))
                .hasMessageContaining("cannot hold one block");
    }

    @Test
    void deadStoreNodeIsDroppedAtOnceAndThePutFailsWithNothingVisible() {
        storeEngine.close();
        // The only node is gone: the retry finds no room anywhere.
        assertThatThrownBy(() -> store.put(BlockKey.ofAll(7, 8), BLOCK, staging.memory(), BlockContent::fill))
                .isInstanceOf(StoreException.class).hasMessageContaining("no room");
        assertThat(master.master().stats().nodes()).isZero();
        assertThat(store.lookupPrefix(BlockKey.ofAll(7))).isZero();
        assertThat(master.master().stats().pendingBlocks()).isZero();
    }

    @Test
    void getFallsBackToTheOtherReplicaWhenTheFirstNodeIsDead() {
        try (Slab slab2 = Slab.allocate(8 * 266_240);
             TransferEngine engine2 = new TransferEngine(new TransferEngine.Context())) {
            masterClient.register("s2", engine2.registerSegment("s2/dram", slab2.memory()));
            StoreClient replicated = new StoreClient(masterClient, clientEngine, 10_000, 2, "s2/dram");
            BlockKey[] keys = BlockKey.ofAll(30, 31, 32, 33);
            replicated.put(keys, BLOCK, staging.memory(), BlockContent::fill);
            assertThat(master.master().stats().usedBytes()).isEqualTo(8 * OffsetAllocator.aligned(BLOCK));

            engine2.close(); // s2 holds the first replica of every block
            List<BlockKey> seen = new ArrayList<>();
            replicated.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
                assertThat(BlockContent.firstMismatch(key, bytes)).isEqualTo(-1);
                seen.add(key);
            });
            assertThat(seen).containsExactly(BlockKey.ofAll(30, 31, 32, 33));
            assertThat(master.master().stats().nodes()).isEqualTo(1);
            assertThat(master.master().stats().underReplicated()).isEqualTo(4);
            assertThat(master.master().stats().lostBlocks()).isZero();
        }
    }

    @Test
    void aGetWhoseSinkFailsWithAnErrorGivesItsLeaseBack() {
        store.put(BlockKey.ofAll(3, 4), BLOCK, staging.memory(), BlockContent::fill);
        assertThatThrownBy(() -> store.get(BlockKey.ofAll(3, 4), BLOCK, staging.memory(), (k, b, c) -> {
            throw new OutOfMemoryError("Cannot reserve direct buffer memory");
        })).isInstanceOf(OutOfMemoryError.class);
        // Well within the lease's TTL (10 s): only a release ends it this soon.
        await().atMost(Duration.ofSeconds(3)).until(() -> master.master().stats().leases() == 0);
        assertThat(store.remove(BlockKey.ofAll(3, 4))).containsExactly(Master.REMOVED, Master.REMOVED);
    }

    @Test
    void aPutWhoseSourceFailsWithAnErrorLeavesNothingPending() {
        assertThatThrownBy(() -> store.put(BlockKey.ofAll(5, 6), BLOCK, staging.memory(), (k, slot) -> {
            throw new OutOfMemoryError("Java heap space");
        })).isInstanceOf(OutOfMemoryError.class);
        assertThat(master.master().stats().pendingBlocks()).isZero();
        assertThat(store.exists(BlockKey.ofAll(5, 6))).containsExactly(false, false);
    }

    @Test
    void aPutOfAKeyStoredWithAnotherLengthIsRefusedAndWritesNothing() {
        store.put(BlockKey.ofAll(20), BLOCK, staging.memory(), BlockContent::fill);
        assertThatThrownBy(() -> store.put(BlockKey.ofAll(21, 20), BLOCK - 8, staging.memory(), BlockContent::fill))
                .isInstanceOf(LengthConflictException.class)
                .hasMessageContaining("block key " + BlockKey.of(20) + " is already in the store (or being written) with " + BLOCK
                        + " bytes, not the " + (BLOCK - 8));
        assertThat(store.exists(BlockKey.ofAll(20, 21))).containsExactly(true, false);
        assertThat(master.master().stats().pendingBlocks()).isZero();
        assertThat(store.put(BlockKey.ofAll(20), BLOCK, staging.memory(), BlockContent::fill).existed()).isEqualTo(1);
    }

    @Test
    void existsAndRemoveWorkOnBatchesOfKeys() {
        store.put(BlockKey.ofAll(1, 2), BLOCK, staging.memory(), BlockContent::fill);
        assertThat(store.exists(BlockKey.ofAll(1, 2, 3))).containsExactly(true, true, false);
        assertThat(store.remove(BlockKey.ofAll(2, 3))).containsExactly(Master.REMOVED, Master.NOT_FOUND);
        assertThat(store.exists(BlockKey.ofAll(1, 2))).containsExactly(true, false);
    }
}
