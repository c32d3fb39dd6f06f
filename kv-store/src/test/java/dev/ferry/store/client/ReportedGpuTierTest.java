package dev.ferry.store.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.device.HostDeviceMemory;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.gpu.CopyBatching;
import dev.ferry.store.gpu.GpuBlockCache;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A GPU tier that reports to the master keeps serving when the master is gone, and resyncs when it is back. */
class ReportedGpuTierTest {
    private static final long BLOCK = 16 * 1024;

    @Test
    void aMasterThatCannotBeReachedFailsReportsNotTheTierAndTheNextReachableOneGetsEverything() {
        MasterService gone = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000);
        int port = gone.port();
        gone.close();
        try (Arena arena = Arena.ofShared(); HostDeviceMemory memory = new HostDeviceMemory(1 << 20);
             MasterClient unreachable = new MasterClient("127.0.0.1", port, 300, 0);
             ReportedGpuTier tier = new ReportedGpuTier(new GpuBlockCache(memory, 8 * BLOCK, null, CopyBatching.NEVER),
                     unreachable, "engine", 60_000)) {
            MemorySegment block = arena.allocate(BLOCK, 4096);
            BlockContent.fill(BlockKey.of(1), block);
            int crc = BlockContent.crc32c(block);
            tier.land(BlockKey.of(1), block, crc);
            assertThat(tier.report()).isFalse();
            assertThat(tier.failures()).isPositive();
            assertThat(tier.heldInOtherGpuTiers(BlockKey.ofAll(1))).as("no hint, no failure").isZero();
            MemorySegment out = arena.allocate(BLOCK, 4096);
            assertThat(tier.read(BlockKey.of(1), BLOCK, crc, out)).as("the tier still serves").isTrue();
            assertThat(out.mismatch(block)).isEqualTo(-1);
        }
    }

    @Test
    void afterAFailedReportTheNextListsEveryBlockHeld() {
        try (MasterService master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000);
             Arena arena = Arena.ofShared(); HostDeviceMemory memory = new HostDeviceMemory(1 << 20);
             MasterClient client = new MasterClient("127.0.0.1", master.port(), 5_000);
             ReportedGpuTier tier = new ReportedGpuTier(new GpuBlockCache(memory, 8 * BLOCK, null, CopyBatching.NEVER),
                     client, "engine", 60_000)) {
            await().atMost(Duration.ofSeconds(10)).until(() -> tier.reports() >= 1); // the first, at once: nothing held
            for (long k = 1; k <= 3; k++) {
                MemorySegment block = arena.allocate(BLOCK, 4096);
                BlockContent.fill(BlockKey.of(k), block);
                tier.land(BlockKey.of(k), block, BlockContent.crc32c(block));
            }
            assertThat(tier.report()).isTrue();
            assertThat(master.master().gpuCopiesPerEngine()).containsEntry("engine", 3);
            // The master forgets the engine (as a new master would): the next report's count differs,
            // and the one after it lists all three again.
            client.gpuHeld("engine", true, new BlockKey[0], new BlockKey[0]);
            assertThat(tier.report()).isTrue();
            assertThat(tier.report()).isTrue();
            assertThat(master.master().gpuCopiesPerEngine()).containsEntry("engine", 3);
        }
    }
}
