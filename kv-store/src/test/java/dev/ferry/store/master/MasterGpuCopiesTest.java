package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.transfer.TransferEngine;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The master learns which blocks engines hold in their GPU tiers ({@code GPU_HELD}), answers who
 * holds a block ({@code GPU_HOLDERS}), and drops an engine's copies when it restarts
 * ({@code GPU_LOST}) or stops reporting: a real master over loopback, a store node's segment,
 * and real puts.
 */
class MasterGpuCopiesTest {
    private static final BlockKey[] NONE = new BlockKey[0];
    private MasterService service;
    private Slab slab;
    private TransferEngine storeEngine;
    private MasterClient client;

    @BeforeEach
    void start() {
        service = new MasterService("127.0.0.1", 0, new LruPolicy(), 1_000);
        slab = Slab.allocate(1 << 20);
        storeEngine = new TransferEngine(new TransferEngine.Context());
        client = new MasterClient("127.0.0.1", service.port(), 5_000);
        client.register("s1", storeEngine.registerSegment("s1/dram", slab.memory()));
        List<Placement> placed = client.putStart(BlockKey.ofAll(1, 2, 3), 4096, 1, null);
        assertThat(placed).hasSize(3);
        client.putCommit(BlockKey.ofAll(1, 2, 3), new int[] {1, 2, 3});
    }

    @AfterEach
    void stop() {
        client.close();
        storeEngine.close();
        service.close();
        slab.close();
    }

    private Master master() {
        return service.master();
    }

    @Test
    void reportsOfChangesAddUpAndTheMasterAnswersWhoHoldsEachBlock() {
        assertThat(client.gpuHeld("prefill", true, BlockKey.ofAll(1, 2), NONE)).isEqualTo(2);
        assertThat(client.gpuHeld("decode", false, BlockKey.ofAll(2, 3), NONE)).isEqualTo(2);
        assertThat(client.gpuHeld("prefill", false, BlockKey.ofAll(3), BlockKey.ofAll(1))).isEqualTo(2);

        assertThat(client.gpuHolders(BlockKey.ofAll(1, 2, 3, 9))).containsExactly(List.of(), List.of("decode", "prefill"),
                List.of("decode", "prefill"), List.of());
        assertThat(master().gpuCopiesPerEngine()).containsEntry("prefill", 2).containsEntry("decode", 2);
        assertThat(master().tierUsage().gpuCopies()).isEqualTo(4);

        // A full report replaces what the master had for the engine.
        assertThat(client.gpuHeld("prefill", true, BlockKey.ofAll(1), NONE)).isOne();
        assertThat(client.gpuHolders(BlockKey.ofAll(1, 2))).containsExactly(List.of("prefill"), List.of("decode"));
    }

    @Test
    void aRemovedBlockHasNoHoldersWhateverTheEnginesLastReported() {
        client.gpuHeld("decode", true, BlockKey.ofAll(1, 2), NONE);
        assertThat(client.remove(BlockKey.ofAll(1))).containsExactly(Master.REMOVED);
        assertThat(client.gpuHolders(BlockKey.ofAll(1, 2))).containsExactly(List.of(), List.of("decode"));
    }

    @Test
    void aRestartedEnginesGpuLostReportDropsWhatItsPreviousProcessHeld() {
        client.gpuHeld("decode", true, BlockKey.ofAll(1, 2, 3), NONE);
        client.gpuHeld("prefill", true, BlockKey.ofAll(1), NONE);
        assertThat(client.gpuCopiesLost("decode", BlockKey.ofAll(1, 2, 3))).isEqualTo(3);
        assertThat(master().gpuCopiesPerEngine()).doesNotContainKey("decode").containsEntry("prefill", 1);
        assertThat(client.gpuHolders(BlockKey.ofAll(1, 2))).containsExactly(List.of("prefill"), List.of());
        // Its new process reports from scratch: the master's count tells it whether they agree.
        assertThat(client.gpuHeld("decode", false, BlockKey.ofAll(2), NONE)).isOne();
    }

    @Test
    void anEngineThatStopsReportingIsTakenForDeadAndItsCopiesAreDropped() {
        client.gpuHeld("dead", true, BlockKey.ofAll(1, 2), NONE);
        assertThat(master().gpuCopies()).isEqualTo(2);
        // The node timeout is 1 s; the reaper runs every 200 ms. The live engine keeps reporting.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            client.heartbeat("s1"); // the store node stays alive, its blocks committed
            client.gpuHeld("alive", false, NONE, NONE);
            assertThat(master().gpuCopiesPerEngine()).doesNotContainKey("dead");
        });
        assertThat(client.exists(BlockKey.ofAll(1))).containsExactly(true);
        assertThat(client.gpuHolders(BlockKey.ofAll(1))).containsExactly(List.of());
        assertThat(master().gpuCopies()).isZero();
    }
}
