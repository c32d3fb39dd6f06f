package dev.ferry.store.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.transfer.TransferEngine;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link DirectStoreClient} gives back every lease a read took, whatever ends the read:
 * an {@link OutOfMemoryError} from the code that picks the destinations (a sidecar that
 * cannot reserve direct memory for a GET_INLINE answer) included.
 */
class DirectStoreClientReleaseTest {
    private static final long BLOCK = 64 * 1024;
    private MasterService master;
    private Slab slab;
    private TransferEngine storeEngine;
    private MasterClient masterClient;
    private TransferEngine clientEngine;
    private DirectStoreClient store;

    @BeforeEach
    void start() {
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000);
        slab = Slab.allocate(8 * 266_240);
        storeEngine = new TransferEngine(new TransferEngine.Context());
        masterClient = new MasterClient("127.0.0.1", master.port(), 5_000);
        masterClient.register("s1", storeEngine.registerSegment("s1/dram", slab.memory()));
        clientEngine = new TransferEngine(new TransferEngine.Context().resolver(masterClient));
        store = new DirectStoreClient(masterClient, clientEngine, 10_000);
    }

    @AfterEach
    void stop() {
        clientEngine.close();
        masterClient.close();
        storeEngine.close();
        master.close();
        slab.close();
    }

    @Test
    void aReadThatRunsOutOfDirectMemoryGivesItsLeaseBack() {
        MemorySegment block = MemorySegment.ofArray(new byte[(int) BLOCK]);
        BlockContent.fill(7, block);
        store.put(BlockKey.ofAll(7), new MemorySegment[] {block});
        for (int i = 0; i < 5; i++) {
            assertThatThrownBy(() -> store.get(BlockKey.ofAll(7), replicas -> {
                throw new OutOfMemoryError("Cannot reserve " + BLOCK + " bytes of direct buffer memory");
            })).isInstanceOf(OutOfMemoryError.class);
        }
        assertThat(store.leasesHeld()).isZero();
        await().atMost(Duration.ofSeconds(10)).until(() -> master.master().stats().leases() == 0);
        // The block is not pinned by a lost lease: it can be removed.
        assertThat(store.remove(BlockKey.ofAll(7))).containsExactly(0);
    }

    @Test
    void aRangedReadThatFailsWithAnErrorGivesItsLeaseBack() {
        MemorySegment block = MemorySegment.ofArray(new byte[(int) BLOCK]);
        BlockContent.fill(8, block);
        store.put(BlockKey.ofAll(8), new MemorySegment[] {block});
        MemorySegment tooFar = MemorySegment.ofArray(new byte[16]);
        assertThatThrownBy(() -> store.readRanges(BlockKey.ofAll(8), new long[] {BLOCK - 8},
                new MemorySegment[] {tooFar})).isInstanceOf(IllegalArgumentException.class);
        assertThat(store.leasesHeld()).isZero();
        await().atMost(Duration.ofSeconds(10)).until(() -> master.master().stats().leases() == 0);
    }
}
