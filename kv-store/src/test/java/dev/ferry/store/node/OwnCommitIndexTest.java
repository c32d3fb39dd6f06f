package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.DirectStoreClient;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.master.IndexUpdate;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.testing.OpenResources;
import dev.ferry.transfer.TransferEngine;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A put from the process that runs the holding store node (a sidecar's) takes the node's
 * index updates with the commit's answer (the master no longer waits for that node's
 * acknowledgement: CommitFenceTest): when the put returns, the node's own index already has
 * every block, and the updates a commit answer carries are applied before the commit returns.
 */
class OwnCommitIndexTest {
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

    @Test
    void whenAPutFromTheNodesOwnProcessReturnsTheNodesIndexHasItsBlocks() {
        MasterService master = own(new MasterService("127.0.0.1", 0, new LruPolicy(), 60_000));
        MasterClient masterClient = own(new MasterClient("127.0.0.1", master.port(), 5_000));
        // A heartbeat a minute apart: only the commit path itself can bring the index up to date.
        StoreNode node = own(StoreNode.start(new StoreNode.Config("n1", new HostPort("127.0.0.1", master.port()),
                64 * BLOCK, new TransferEngine.Context(), dir, dir.resolve("data"), 60_000)));
        DirectStoreClient store = own(new DirectStoreClient(masterClient, node.engine(), 10_000,
                new DirectStoreClient.LocalSegment(node.segment().name(), node.memory(), node::registrations,
                        node.commitIndex()), 0, 0));
        Arena arena = own(Arena.ofConfined());
        for (long k = 1; k <= 32; k += 4) {
            BlockKey[] keys = BlockKey.ofAll(k, k + 1, k + 2, k + 3);
            MemorySegment[] values = new MemorySegment[keys.length];
            for (int i = 0; i < keys.length; i++) {
                values[i] = arena.allocate(BLOCK);
                BlockContent.fill(keys[i], values[i]);
            }
            store.put(keys, values);
            List<IndexedBlock> indexed = node.indexEntries();
            for (int i = 0; i < keys.length; i++) {
                BlockKey key = keys[i];
                assertThat(indexed).as("block %s in n1's index when its put returned", key)
                        .anySatisfy(b -> {
                            assertThat(b.key()).isEqualTo(key);
                            assertThat(b.crc32c()).isEqualTo(BlockContent.crc32c(
                                    node.memory().asSlice(b.offset(), b.length())));
                        });
            }
        }
        assertThat(masterClient.stats().blocks()).isEqualTo(32);
    }

    @Test
    void theUpdatesACommitAnswerCarriesAreInTheIndexWhenTheCommitReturns() {
        MasterService master = own(new MasterService("127.0.0.1", 0, new LruPolicy(), 60_000));
        StoreNode node = own(StoreNode.start(new StoreNode.Config("n1", new HostPort("127.0.0.1", master.port()),
                64 * BLOCK, new TransferEngine.Context(), dir, dir.resolve("data"), 60_000)));
        IndexedBlock block = new IndexedBlock(BlockKey.of(7), 0, BLOCK, 1234);
        // Numbered after anything the master may queue for the node: no poll hands it out.
        node.commitIndex().commit(acked -> List.of(new IndexUpdate(acked + 1_000_000, IndexUpdate.Kind.ADD, block)));
        assertThat(node.indexEntries()).containsExactly(block);

        assertThatThrownBy(() -> node.commitIndex().commit(acked -> {
            throw new IllegalStateException("refused");
        })).hasMessage("refused");
        assertThat(node.indexEntries()).containsExactly(block);
    }
}
