package dev.ferry.store.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.nativemem.device.DeviceChoice;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.gpu.GpuBlockCache;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.metrics.LinkTraffic;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine's GPU tier in front of the store, on host memory standing in for a GPU: a master,
 * a store node's engine and slab, and two engines (a prefill and a decode side, each with its
 * own GPU tier), in one JVM over loopback.
 */
class StoreClientGpuTierTest {
    private static final long BLOCK = 256 * 1024 + 8;
    private MasterService master;
    private Slab slab;
    private TransferEngine storeEngine;
    private MasterClient masterClient;
    private Side prefill;
    private Side decode;

    /** One engine's side: its transfer engine, GPU tier, staging and store client. */
    private final class Side implements AutoCloseable {
        final TransferEngine engine = new TransferEngine(new TransferEngine.Context().resolver(masterClient));
        final GpuBlockCache gpu;
        final Slab staging = Slab.allocate(3 * BLOCK);
        final StoreClient store;

        Side(long gpuBytes) {
            gpu = GpuBlockCache.open(DeviceChoice.HOST, gpuBytes);
            gpu.registerStaging(staging.memory());
            store = new StoreClient(masterClient, engine, 10_000, 1, null, gpu);
        }

        PutResult put(BlockKey... keys) {
            return store.put(keys, BLOCK, staging.memory(), BlockContent::fill);
        }

        GetResult get(BlockKey... keys) {
            return store.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
                assertThat(BlockContent.crc32c(bytes)).isEqualTo(crc);
                assertThat(BlockContent.firstMismatch(key, bytes)).isEqualTo(-1);
            });
        }

        long bytesMoved() {
            return engine.traffic().stream().mapToLong(LinkTraffic::bytes).sum();
        }

        @Override
        public void close() {
            store.close();
            engine.close();
            gpu.close();
            staging.close();
        }
    }

    @BeforeEach
    void start() {
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000);
        slab = Slab.allocate(16 * 266_240);
        storeEngine = new TransferEngine(new TransferEngine.Context());
        masterClient = new MasterClient("127.0.0.1", master.port(), 5_000);
        masterClient.register("s1", storeEngine.registerSegment("s1/dram", slab.memory()));
        prefill = new Side(8 * BLOCK);
        decode = new Side(3 * 266_240);
    }

    @AfterEach
    void stop() {
        decode.close();
        prefill.close();
        masterClient.close();
        storeEngine.close();
        master.close();
        slab.close();
    }

    @Test
    void aNewBlockLandsInTheWritersGpuTierFirstAndIsWrittenToDram() {
        BlockKey[] keys = BlockKey.ofAll(1, 2, 3);
        PutResult put = prefill.put(keys);
        assertThat(put.written()).isEqualTo(3);
        assertThat(put.gpuNanos()).as("landing and copying down is timed").isPositive();
        for (BlockKey k : keys) {
            assertThat(prefill.gpu.holds(k)).isTrue();
        }
        assertThat(prefill.gpu.counters().landed()).isEqualTo(3);
        assertThat(masterClient.exists(keys)).containsExactly(true, true, true);
        // DRAM holds what came down from the GPU tier: a reader without one reads every byte.
        GetResult got = decode.get(keys);
        assertThat(got.gpuBlocks()).isZero();
        assertThat(got.bytes()).isEqualTo(3 * BLOCK);
    }

    @Test
    void aDramHitIsPromotedAndTheNextReadIsAGpuHitThatMovesNoBytes() {
        BlockKey[] keys = BlockKey.ofAll(1, 2, 3);
        prefill.put(keys);
        GetResult first = decode.get(keys);
        assertThat(first.gpuBlocks()).isZero();
        assertThat(first.dramBlocks()).isEqualTo(3);
        assertThat(first.promoteNanos()).as("the promotion is timed").isPositive();
        assertThat(decode.gpu.counters().promoted()).isEqualTo(3);

        long moved = decode.bytesMoved();
        GetResult second = decode.get(keys);
        assertThat(second.gpuBlocks()).isEqualTo(3);
        assertThat(second.bytes()).isZero();
        assertThat(second.promoteNanos()).as("nothing read from the store, nothing promoted").isZero();
        assertThat(decode.bytesMoved()).isEqualTo(moved);
        assertThat(decode.gpu.counters().hits()).isEqualTo(3);
    }

    @Test
    void aGpuHitIsLeasedLikeADramOneSoTheBlockCannotBeRemovedWhileItIsRead() {
        BlockKey[] keys = BlockKey.ofAll(1);
        prefill.put(keys);
        decode.get(keys);
        List<Byte> removal = new ArrayList<>();
        GetResult hit = decode.store.get(keys, BLOCK, decode.staging.memory(),
                (key, bytes, crc) -> removal.add(masterClient.remove(new BlockKey[] {key})[0]));
        assertThat(hit.gpuBlocks()).isEqualTo(1);
        assertThat(removal).containsExactly(Master.LEASED);
    }

    @Test
    void aRemovedKeyIsNotServedFromAStaleGpuCopy() {
        BlockKey[] keys = BlockKey.ofAll(1, 2);
        prefill.put(keys);
        decode.get(keys);
        assertThat(masterClient.remove(BlockKey.ofAll(2))).containsExactly(Master.REMOVED);
        assertThatThrownBy(() -> decode.get(keys)).isInstanceOf(StoreException.class)
                .hasMessageContaining("block key " + BlockKey.of(2) + " is not in the store");
        assertThat(decode.gpu.holds(BlockKey.of(2))).isFalse();
    }

    @Test
    void aKeyWrittenAgainWithOtherBytesIsReadFromTheStoreNotFromTheOldGpuCopy() {
        BlockKey key = BlockKey.of(7);
        prefill.put(key);
        decode.get(key);
        assertThat(masterClient.remove(new BlockKey[] {key})).containsExactly(Master.REMOVED);
        // Written again with other bytes (those of key 8), by a writer without a GPU tier.
        try (Slab staging = Slab.allocate(BLOCK)) {
            new StoreClient(masterClient, prefill.engine, 10_000).put(new BlockKey[] {key}, BLOCK, staging.memory(),
                    (k, out) -> BlockContent.fill(BlockKey.of(8), out));
        }
        List<Long> mismatches = new ArrayList<>();
        GetResult got = decode.store.get(new BlockKey[] {key}, BLOCK, decode.staging.memory(),
                (k, bytes, crc) -> {
                    assertThat(BlockContent.crc32c(bytes)).isEqualTo(crc);
                    mismatches.add(BlockContent.firstMismatch(BlockKey.of(8), bytes));
                });
        assertThat(got.gpuBlocks()).isZero();
        assertThat(mismatches).containsExactly(-1L);
        assertThat(decode.gpu.counters().stale()).isEqualTo(1);
    }

    @Test
    void underGpuPressureTheColdestCopyGoesAndItsBlockIsReadFromDram() {
        // decode's tier holds 3 blocks
        BlockKey[] keys = BlockKey.ofAll(1, 2, 3, 4);
        prefill.put(keys);
        decode.get(BlockKey.ofAll(1, 2, 3));
        decode.get(BlockKey.ofAll(1)); // 2 is the coldest now
        decode.get(BlockKey.ofAll(4));
        assertThat(decode.gpu.holds(BlockKey.of(2))).isFalse();
        assertThat(decode.gpu.holds(BlockKey.of(1))).isTrue();
        GetResult got = decode.get(BlockKey.ofAll(1, 2));
        assertThat(got.gpuBlocks()).isEqualTo(1);
        assertThat(got.dramBlocks()).isEqualTo(1);
    }

    @Test
    void aFullGpuTierNeverFailsAPutOrAGet() {
        try (Side tiny = new Side(4096)) {
            BlockKey[] keys = BlockKey.ofAll(11, 12);
            assertThat(tiny.put(keys).written()).isEqualTo(2);
            assertThat(tiny.gpu.holds(BlockKey.of(11))).isFalse();
            GetResult got = tiny.get(keys);
            assertThat(got.gpuBlocks()).isZero();
            assertThat(got.dramBlocks()).isEqualTo(2);
            assertThat(tiny.gpu.counters().full()).isEqualTo(4);
        }
    }

    @Test
    void aRestartedEngineLearnsFromItsIndexWhatItsGpuTierLostAndTellsTheMaster(@TempDir Path dir) {
        Path indexFile = dir.resolve("decode-gpu.index");
        BlockKey[] keys = BlockKey.ofAll(1, 2, 3);
        prefill.put(keys);
        GpuBlockCache before = GpuBlockCache.open(DeviceChoice.HOST, 4 * 266_240, indexFile);
        try (Slab staging = Slab.allocate(3 * BLOCK)) {
            new StoreClient(masterClient, decode.engine, 10_000, 1, null, before).get(keys, BLOCK, staging.memory(),
                    (k, b, c) -> { });
        }
        // The process dies: its GPU memory goes, the index file stays.
        GpuBlockCache after = GpuBlockCache.open(DeviceChoice.HOST, 4 * 266_240, indexFile);
        try {
            assertThat(after.lostAtStart()).containsExactlyInAnyOrder(keys);
            assertThat(after.counters().blocks()).isZero();
            assertThat(masterClient.remove(BlockKey.ofAll(3))).containsExactly(Master.REMOVED);
            assertThat(masterClient.gpuCopiesLost("decode", after.lostAtStart().toArray(BlockKey[]::new)))
                    .isEqualTo(2);
            assertThat(master.master().gpuCopiesLost()).isEqualTo(3);
        } finally {
            after.close();
            before.close();
        }
    }

    @Test
    void aRestartedEngineHasAnEmptyGpuTierAndReadsItsBlocksFromDram() {
        BlockKey[] keys = BlockKey.ofAll(1, 2);
        prefill.put(keys);
        decode.get(keys);
        assertThat(decode.get(keys).gpuBlocks()).isEqualTo(2);
        decode.close(); // the process goes; its GPU memory with it
        decode = new Side(3 * 266_240);
        assertThat(decode.gpu.counters().blocks()).isZero();
        GetResult after = decode.get(keys);
        assertThat(after.gpuBlocks()).isZero();
        assertThat(after.bytes()).isEqualTo(2 * BLOCK);
        assertThat(decode.get(keys).gpuBlocks()).isEqualTo(2);
    }

    @Test
    void theMasterLearnsWhatEachGpuTierHoldsIncludingEvictionsAndForgetsItWhenTheTierCloses() {
        prefill.put(BlockKey.ofAll(1, 2, 3, 4, 5));
        try (ReportedGpuTier reportedPrefill = new ReportedGpuTier(prefill.gpu, masterClient, "prefill", 50);
             ReportedGpuTier reportedDecode = new ReportedGpuTier(decode.gpu, masterClient, "decode", 50)) {
            decode.get(BlockKey.ofAll(1, 2, 3));
            decode.get(BlockKey.ofAll(4, 5)); // decode's tier holds 3 blocks: 1 and 2 are evicted
            assertThat(decode.gpu.holds(BlockKey.of(1))).isFalse();
            assertThat(decode.gpu.holds(BlockKey.of(5))).isTrue();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(masterClient.gpuHolders(
                    BlockKey.ofAll(1, 2, 3, 4, 5))).containsExactly(List.of("prefill"), List.of("prefill"),
                    List.of("decode", "prefill"), List.of("decode", "prefill"), List.of("decode", "prefill")));
            assertThat(master.master().gpuCopiesPerEngine()).containsEntry("prefill", 5).containsEntry("decode", 3);

            // The master forgets decode's copies (as after a master restart): decode's next report lists them all again.
            masterClient.gpuCopiesLost("decode", new BlockKey[0]);
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(master.master().gpuCopiesPerEngine())
                    .containsEntry("decode", 3));
            assertThat(reportedDecode.failures()).isZero();
            assertThat(reportedDecode.reports()).isGreaterThan(1);
        }
        assertThat(master.master().gpuCopiesPerEngine()).as("closed tiers report holding nothing").isEmpty();
    }

    @Test
    void aReaderLearnsFromTheMasterWhichBlocksItReadFromTheStoreAnotherEnginesGpuTierHeld() {
        BlockKey[] keys = BlockKey.ofAll(1, 2);
        try (ReportedGpuTier reportedPrefill = new ReportedGpuTier(prefill.gpu, masterClient, "prefill", 50);
             ReportedGpuTier reportedDecode = new ReportedGpuTier(decode.gpu, masterClient, "decode", 50)) {
            StoreClient reader = new StoreClient(masterClient, decode.engine, 10_000, 1, null, reportedDecode);
            try {
                prefill.put(keys);
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(masterClient.gpuHolders(keys))
                        .containsExactly(List.of("prefill"), List.of("prefill")));
                GetResult got = reader.get(keys, BLOCK, decode.staging.memory(), (key, bytes, crc) -> { });
                assertThat(got.dramBlocks()).isEqualTo(2);
                assertThat(got.elsewhereGpuBlocks()).as("both were in prefill's GPU tier").isEqualTo(2);

                GetResult again = reader.get(keys, BLOCK, decode.staging.memory(), (key, bytes, crc) -> { });
                assertThat(again.gpuBlocks()).isEqualTo(2);
                assertThat(again.elsewhereGpuBlocks()).as("nothing read from the store").isZero();
            } finally {
                reader.close();
            }
        }
    }
}
