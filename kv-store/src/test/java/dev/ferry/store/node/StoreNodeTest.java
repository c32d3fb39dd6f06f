package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.master.MasterStats;
import dev.ferry.transfer.TransferEngine;
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
 * A store node with DRAM and an SSD tier (real RocksDB files), a master and a client in one
 * JVM: blocks that do not fit in DRAM are demoted to SSD and come back byte for byte, and a
 * restarted node finds both tiers again.
 */
class StoreNodeTest {
    private static final long BLOCK = 64 * 1024;
    private static final int DRAM_BLOCKS = 8;

    @TempDir
    Path dir;
    private MasterService master;
    private MasterClient masterClient;
    private TransferEngine clientEngine;
    private Slab staging;
    private StoreClient store;

    @BeforeEach
    void start() {
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000);
        masterClient = new MasterClient("127.0.0.1", master.port(), 5_000);
        clientEngine = new TransferEngine(new TransferEngine.Context().resolver(masterClient));
        staging = Slab.allocate(4 * BLOCK);
        store = new StoreClient(masterClient, clientEngine, 10_000);
    }

    @AfterEach
    void stop() {
        store.close();
        clientEngine.close();
        masterClient.close();
        master.close();
        staging.close();
    }

    private StoreNode node() {
        return StoreNode.start(new StoreNode.Config("n1", new HostPort("127.0.0.1", master.port()),
                DRAM_BLOCKS * BLOCK, new TransferEngine.Context(), dir, dir.resolve("data"), dir.resolve("ssd"),
                64 * BLOCK, "lru", 50));
    }

    @Test
    void blocksBeyondDramGoToSsdAndComeBackByteForByte() throws Exception {
        BlockKey[] keys = BlockKey.ofAll(LongStream.rangeClosed(1, 24).toArray());
        try (StoreNode node = node()) {
            for (int i = 0; i < keys.length; i += 2) {
                store.put(new BlockKey[] {keys[i], keys[i + 1]}, BLOCK, staging.memory(), BlockContent::fill);
                awaitDramBelowHighWatermark();
            }
            MasterStats afterPuts = masterClient.stats();
            assertThat(afterPuts.blocks()).isEqualTo(24);
            assertThat(afterPuts.evictions()).isZero();
            assertThat(afterPuts.ssdBlocks()).isGreaterThanOrEqualTo(24 - DRAM_BLOCKS);

            assertThat(store.lookupPrefix(keys)).isEqualTo(24);
            assertThat(masterClient.stats().ssdHits()).isGreaterThanOrEqualTo(24 - DRAM_BLOCKS);
            for (int i = 0; i < keys.length; i += 2) {
                assertEveryByte(new BlockKey[] {keys[i], keys[i + 1]});
                awaitDramBelowHighWatermark();
            }
            assertThat(masterClient.stats().evictions()).isZero();
            assertThat(masterClient.stats().promotions()).isGreaterThanOrEqualTo(24 - DRAM_BLOCKS);
        }
        try (StoreNode again = node()) {
            assertThat(again.recovered()).isGreaterThanOrEqualTo(24);
            assertThat(masterClient.stats().blocks()).isEqualTo(24);
            for (int i = 0; i < keys.length; i += 2) {
                assertEveryByte(new BlockKey[] {keys[i], keys[i + 1]});
                awaitDramBelowHighWatermark();
            }
        }
    }

    /** Fails when DRAM stays above the high watermark or the index backlog stays for 10 s. */
    private void awaitDramBelowHighWatermark() {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .untilAsserted(() -> {
                    MasterStats s = masterClient.stats();
                    assertThat(s.usedBytes()).as("DRAM bytes used").isLessThanOrEqualTo(
                            (long) (s.capacityBytes() * Master.HIGH_WATERMARK));
                    assertThat(s.indexBacklog()).as("index backlog").isZero();
                });
    }

    private void assertEveryByte(BlockKey[] keys) {
        List<Long> seen = new ArrayList<>();
        store.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
            assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
            seen.add(key.narrow());
        });
        assertThat(seen).hasSize(keys.length);
    }
}
