package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.master.MasterStats;
import dev.ferry.store.master.WriteStall;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.store.tier.TmpfsMount;
import dev.ferry.transfer.TransferEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store node whose SSD tier sits on a disk smaller than its {@code --ssd-capacity} (a
 * small tmpfs, so this needs root), with a real master and client: when the disk fills, the
 * node reports its SSD full, the master stops demoting there and evicts, and puts go on
 * without waiting out the write stall; when space comes back, demotion resumes.
 */
class StoreNodeFullSsdTest {
    private static final long BLOCK = 64 * 1024;
    private static final int DRAM_BLOCKS = 16;
    /** BUSY answers one put collects while waiting out the whole write stall (1 ms doubling to 16 ms). */
    private static final long ONE_STALL = WriteStall.LIMIT_NANOS / 16_000_000L;

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

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void aFullSsdIsReportedAndPutsEvictInsteadOfStallingThenDemotionResumesWhenSpaceComesBack() throws Exception {
        try (TmpfsMount disk = TmpfsMount.mount(dir.resolve("disk"), 12L << 20)) {
            Path filler = disk.dir().resolve("filler");
            Files.write(filler, new byte[6 << 20]);
            // 32 MiB of SSD capacity on a disk with 6 MiB free; DRAM holds 1 MiB.
            try (StoreNode node = StoreNode.start(new StoreNode.Config("n1", new HostPort("127.0.0.1", master.port()),
                    DRAM_BLOCKS * BLOCK, new TransferEngine.Context(), dir, dir.resolve("data"),
                    disk.dir().resolve("ssd"), 32L << 20, "lru", 50))) {
                long key = 1;
                // A stream of puts larger than DRAM and the free disk together (20 MiB).
                for (; key <= 320; key += 2) {
                    store.put(BlockKey.ofAll(key, key + 1), BLOCK, staging.memory(), BlockContent::fill);
                }
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> master.master().ssdHealth("n1") == SsdHealth.FULL);
                assertThat(node.ssdHealth()).isEqualTo(SsdHealth.FULL);
                assertThat(node.refusedSsdWrites()).isPositive();
                MasterStats full = masterClient.stats();
                assertThat(full.evictions()).isPositive();
                assertThat(full.demotionWaits()).as("BUSY answers, fewer than one put waiting out the stall")
                        .isLessThan(ONE_STALL);

                for (long end = key + 40; key < end; key += 2) {
                    store.put(BlockKey.ofAll(key, key + 1), BLOCK, staging.memory(), BlockContent::fill);
                }
                MasterStats later = masterClient.stats();
                assertThat(later.demotions()).as("demotions while the SSD is full").isEqualTo(full.demotions());
                assertThat(later.evictions()).isGreaterThanOrEqualTo(full.evictions() + 40);
                assertThat(later.demotionWaits()).isEqualTo(full.demotionWaits());

                Files.delete(filler);
                await().atMost(Duration.ofSeconds(20))
                        .until(() -> master.master().ssdHealth("n1") == SsdHealth.OK);
                for (long end = key + 8; key < end; key += 2) {
                    store.put(BlockKey.ofAll(key, key + 1), BLOCK, staging.memory(), BlockContent::fill);
                }
                await().atMost(Duration.ofSeconds(20)).until(() -> masterClient.stats().demotions() > later.demotions());
            }
        }
    }
}
