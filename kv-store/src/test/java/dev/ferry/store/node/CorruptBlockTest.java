package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.DirectStoreClient;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.client.StoreException;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.master.Replica;
import dev.ferry.transfer.TransferEngine;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupt copies in a store node's slab (pages of the real slab file overwritten through a
 * mapping of their own, as a stray writer or a bad page would): a reader never hands the
 * bad bytes over, the master drops the copy, the client counts it, and the node's scrub
 * finds a corrupt copy that nobody reads.
 */
class CorruptBlockTest {
    private static final long BLOCK = 64 * 1024;
    private static final long CAPACITY = 16 * BLOCK;

    @TempDir
    Path dir;
    private MasterService master;
    private MasterClient masterClient;
    private TransferEngine clientEngine;
    private Slab staging;
    private final List<AutoCloseable> nodes = new ArrayList<>();

    @BeforeEach
    void start() {
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000);
        masterClient = new MasterClient("127.0.0.1", master.port(), 5_000);
        clientEngine = new TransferEngine(new TransferEngine.Context().resolver(masterClient));
        staging = Slab.allocate(4 * BLOCK);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable n : nodes.reversed()) {
            n.close();
        }
        clientEngine.close();
        masterClient.close();
        master.close();
        staging.close();
    }

    private StoreNode node(String id, long scrubBytesPerSecond) {
        StoreNode node = StoreNode.start(new StoreNode.Config(id, new HostPort("127.0.0.1", master.port()), CAPACITY,
                new TransferEngine.Context(), dir, null, null, 0, "lru", 50, false, scrubBytesPerSecond));
        nodes.add(node);
        return node;
    }

    /** Overwrites one 4 KiB page of the block of {@code key} in {@code node}'s slab file. */
    private void corrupt(StoreNode node, long key) {
        Replica copy = replicas(key).stream().filter(r -> r.segment().equals(node.segment().name())).findFirst()
                .orElseThrow();
        try (Slab file = Slab.mapExisting(node.slabFile(), CAPACITY)) {
            MemorySegment page = file.memory().asSlice(copy.offset() + Slab.PAGE_BYTES, Slab.PAGE_BYTES);
            for (long i = 0; i < Slab.PAGE_BYTES; i += 8) {
                page.set(ValueLayout.JAVA_LONG_UNALIGNED, i, page.get(ValueLayout.JAVA_LONG_UNALIGNED, i) ^ -1L);
            }
        }
    }

    /** The master's replicas of {@code key} now (a lease taken and given back). */
    private List<Replica> replicas(long key) {
        Lease lease = masterClient.get(BlockKey.ofAll(key), 10_000);
        masterClient.release(lease.id());
        return lease.replicas().getFirst();
    }

    @Test
    void storeClientReadsTheOtherReplicaAndTheMasterDropsTheCorruptOne() {
        StoreNode first = node("n1", 0);
        StoreNode second = node("n2", 0);
        BlockKey[] keys = BlockKey.ofAll(1, 2, 3);
        try (StoreClient store = new StoreClient(masterClient, clientEngine, 10_000, 2, first.segment().name())) {
            store.put(keys, BLOCK, staging.memory(), BlockContent::fill);
            assertThat(replicas(2).getFirst().segment()).isEqualTo(first.segment().name());
            corrupt(first, 2);

            List<Long> handed = new ArrayList<>();
            store.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
                assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
                assertThat(BlockContent.crc32c(bytes)).isEqualTo(crc);
                handed.add(key.narrow());
            });

            assertThat(handed).containsExactly(1L, 2L, 3L);
            assertThat(store.corruptCopies()).isEqualTo(1);
            assertThat(replicas(2)).extracting(Replica::segment).containsExactly(second.segment().name());
            assertThat(replicas(1)).hasSize(2);
            assertThat(master.master().corruptCopies()).isEqualTo(1);
            // Releases that need no answer may still be on their way.
            await().atMost(Duration.ofSeconds(5)).until(() -> master.master().stats().leases() == 0);
        }
    }

    @Test
    void storeClientAnswersAMissWhenTheOnlyCopyIsCorrupt() {
        StoreNode only = node("n1", 0);
        try (StoreClient store = new StoreClient(masterClient, clientEngine, 10_000)) {
            store.put(BlockKey.ofAll(7, 8), BLOCK, staging.memory(), BlockContent::fill);
            corrupt(only, 8);

            List<Long> handed = new ArrayList<>();
            assertThatThrownBy(() -> store.get(BlockKey.ofAll(7, 8), BLOCK, staging.memory(),
                    (key, bytes, crc) -> handed.add(key.narrow())))
                    .isInstanceOf(StoreException.class).hasMessageContaining("block key " + BlockKey.of(8) + " is not in the store");

            assertThat(handed).doesNotContain(8L);
            assertThat(store.corruptCopies()).isEqualTo(1);
            assertThat(store.exists(BlockKey.ofAll(7, 8))).containsExactly(true, false);
            // The key is free to be written again, and then reads back intact.
            assertThat(store.put(BlockKey.ofAll(8), BLOCK, staging.memory(), BlockContent::fill).written()).isEqualTo(1);
            store.get(BlockKey.ofAll(8), BLOCK, staging.memory(),
                    (key, bytes, crc) -> assertThat(BlockContent.firstMismatch(key, bytes)).isEqualTo(-1));
            // Releases that need no answer may still be on their way.
            await().atMost(Duration.ofSeconds(5)).until(() -> master.master().stats().leases() == 0);
        }
    }

    @Test
    void directClientReadsTheOtherReplicaOrAnswersAMiss() {
        StoreNode first = node("n1", 0);
        StoreNode second = node("n2", 0);
        try (StoreClient writer = new StoreClient(masterClient, clientEngine, 10_000, 2, first.segment().name());
             DirectStoreClient direct = new DirectStoreClient(masterClient, clientEngine, 10_000);
             Slab dest = Slab.allocate(2 * BLOCK)) {
            writer.put(BlockKey.ofAll(11, 12), BLOCK, staging.memory(), BlockContent::fill);
            corrupt(first, 11);
            corrupt(first, 12);
            corrupt(second, 12);

            long[] lengths = direct.get(BlockKey.ofAll(11, 12),
                    replicas -> new MemorySegment[] {dest.memory().asSlice(0, BLOCK), dest.memory().asSlice(BLOCK, BLOCK)});

            assertThat(lengths).containsExactly(BLOCK, -1);
            assertThat(BlockContent.firstMismatch(11, dest.memory().asSlice(0, BLOCK))).isEqualTo(-1);
            assertThat(direct.corruptCopies()).isEqualTo(3);
            assertThat(replicas(11)).extracting(Replica::segment).containsExactly(second.segment().name());
            assertThat(direct.exists(BlockKey.ofAll(11, 12))).containsExactly(true, false);
            // Releases that need no answer may still be on their way.
            await().atMost(Duration.ofSeconds(5)).until(() -> master.master().stats().leases() == 0);
        }
    }

    @Test
    void scrubFindsACorruptBlockNobodyReads() {
        StoreNode node = node("n1", 256L << 20);
        try (StoreClient store = new StoreClient(masterClient, clientEngine, 10_000)) {
            store.put(BlockKey.ofAll(21, 22, 23), BLOCK, staging.memory(), BlockContent::fill);
            // The node learns its blocks from the master's updates; wait until it has checked them.
            await().atMost(Duration.ofSeconds(20)).until(() -> node.scrubbedBlocks() >= 3);
            corrupt(node, 22);

            await().atMost(Duration.ofSeconds(20)).until(() -> node.scrubCorrupt() == 1);

            assertThat(store.exists(BlockKey.ofAll(21, 22, 23))).containsExactly(true, false, true);
            assertThat(master.master().corruptCopies()).isEqualTo(1);
            assertThat(node.scrubCorrupt()).isEqualTo(1);
            assertThat(store.corruptCopies()).isZero();
        }
    }

    @Test
    void scrubKeepsToItsRate() {
        long rate = 512 * 1024; // 8 blocks a second
        long started = System.nanoTime();
        StoreNode node = node("n1", rate);
        try (StoreClient store = new StoreClient(masterClient, clientEngine, 10_000)) {
            store.put(BlockKey.ofAll(LongStream.rangeClosed(1, 8).toArray()), BLOCK, staging.memory(), BlockContent::fill);
            await().atMost(Duration.ofSeconds(20)).until(() -> node.scrubbedBlocks() >= 12);
            long bytes = node.scrubbedBytes();
            double seconds = (System.nanoTime() - started) / 1e9;
            // Read after the count: the bound holds however long the wait took.
            assertThat(bytes).isLessThanOrEqualTo((long) (rate * seconds) + 2 * BLOCK);
            assertThat(node.scrubCorrupt()).isZero();
        }
    }
}
