package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.index.BlockIndex;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.master.IndexUpdate;
import dev.ferry.store.master.IndexUpdate.Kind;
import dev.ferry.store.master.NodeReport;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.tier.SsdTier;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link NodeTiers} on a real (anonymous) slab, an in-memory index and a real SSD tier in a temporary directory. */
class NodeTiersTest {
    private static final long BLOCK = 64 * 1024;

    @TempDir
    Path dir;

    private final Slab slab = Slab.allocate(4 * BLOCK);
    private final BlockIndex index = BlockIndex.inMemory(1024);
    private SsdTier ssd;
    private NodeTiers tiers;
    /** The keys of every report taken so far, by kind. */
    private final List<Long> demoted = new ArrayList<>();
    private final List<Long> loaded = new ArrayList<>();
    private final List<Long> gone = new ArrayList<>();

    @AfterEach
    void close() {
        try {
            if (tiers != null) {
                tiers.close(); // closes the index and the SSD tier
            } else {
                index.close();
            }
        } finally {
            slab.close();
        }
    }

    private NodeTiers withSsd(long capacity) {
        ssd = SsdTier.open(new SsdTier.Context().directory(dir).capacityBytes(capacity)
                .policy(EvictionPolicy.byName("lru")).ioThreads(2).writeBufferBytes(4L << 20));
        tiers = new NodeTiers(slab, index, ssd);
        return tiers;
    }

    private NodeTiers withoutSsd() {
        tiers = new NodeTiers(slab, index, null);
        return tiers;
    }

    /** Fills the slab range with the key's content and returns the block as the master would commit it. */
    private IndexedBlock written(long key, long offset) {
        MemorySegment range = slab.memory().asSlice(offset, BLOCK);
        BlockContent.fill(key, range);
        return new IndexedBlock(BlockKey.of(key), offset, BLOCK, BlockContent.crc32c(range));
    }

    private static List<IndexUpdate> updates(Object... seqKindBlock) {
        List<IndexUpdate> out = new ArrayList<>();
        for (int i = 0; i < seqKindBlock.length; i += 3) {
            out.add(new IndexUpdate((Long) seqKindBlock[i], (Kind) seqKindBlock[i + 1], (IndexedBlock) seqKindBlock[i + 2]));
        }
        return out;
    }

    /** Takes the next report (acknowledging it) and adds its keys to those seen. */
    private NodeReport takeReport() {
        NodeReport r = tiers.report();
        tiers.reported();
        Arrays.stream(r.demoted()).forEach(k -> demoted.add(k.narrow()));
        Arrays.stream(r.loaded()).forEach(k -> loaded.add(k.narrow()));
        Arrays.stream(r.ssdGone()).forEach(k -> gone.add(k.narrow()));
        return r;
    }

    /** Commits {@code b} (seq 1), demotes it (seq 2) and waits until the mover wrote it to the SSD tier. */
    private void committedAndDemoted(IndexedBlock b) throws InterruptedException {
        CountDownLatch written = new CountDownLatch(1);
        tiers.onDemotionsWritten(written::countDown);
        tiers.submit(updates(1L, Kind.ADD, b, 2L, Kind.DEMOTE, b));
        assertThat(written.await(10, TimeUnit.SECONDS)).as("demotions-written callback ran").isTrue();
    }

    private IndexedBlock indexed(long key) {
        return index.entries().stream().filter(b -> b.key().equals(BlockKey.of(key))).findFirst().orElse(null);
    }

    @Test
    void addIndexesTheBlockAndMakesItResidentRemoveTakesItOutOfBoth() {
        withoutSsd();
        IndexedBlock b = written(7, 0);

        tiers.submit(updates(1L, Kind.ADD, b));
        assertThat(indexed(7)).isEqualTo(b);
        assertThat(tiers.resident().holds(b)).isTrue();
        assertThat(tiers.applied()).isEqualTo(1);

        tiers.submit(updates(2L, Kind.REMOVE, b));
        assertThat(indexed(7)).isNull();
        assertThat(tiers.resident().holds(b)).isFalse();
        assertThat(tiers.applied()).isEqualTo(2);
    }

    @Test
    void updatesAtOrBelowTheLastTakenSeqAreIgnored() {
        withoutSsd();
        IndexedBlock b = written(7, 0);
        tiers.submit(updates(5L, Kind.ADD, b));

        tiers.submit(updates(5L, Kind.REMOVE, b, 3L, Kind.REMOVE, b)); // repeats of updates taken: not applied

        assertThat(indexed(7)).isEqualTo(b);
        assertThat(tiers.resident().holds(b)).isTrue();
        assertThat(tiers.applied()).isEqualTo(5);

        tiers.submit(updates(5L, Kind.ADD, b, 6L, Kind.REMOVE, b)); // a poll answer repeating the taken one, then a new one
        assertThat(indexed(7)).isNull();
        assertThat(tiers.applied()).isEqualTo(6);
    }

    @Test
    void demoteWritesTheBlockToSsdDropsItsEntryAndReportsItOnce() throws Exception {
        withSsd(1L << 20);
        IndexedBlock b = written(7, BLOCK);

        committedAndDemoted(b);

        assertThat(ssd.contains(BlockKey.of(7))).isTrue();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment back = arena.allocate(BLOCK, 4096);
            assertThat(ssd.get(BlockKey.of(7), back).join()).isEqualTo(BLOCK);
            assertThat(BlockContent.firstMismatch(7, back)).isEqualTo(-1);
            assertThat(BlockContent.crc32c(back)).isEqualTo(b.crc32c());
        }
        ssd.forEach(s -> assertThat(s.crc32c()).isEqualTo(b.crc32c()));
        assertThat(indexed(7)).isNull();
        assertThat(tiers.resident().holds(b)).isFalse();

        NodeReport first = tiers.report();
        assertThat(first.ackedSeq()).isEqualTo(2);
        assertThat(first.demoted()).containsExactly(BlockKey.ofAll(7));
        assertThat(tiers.report().demoted()).as("repeated until acknowledged").containsExactly(BlockKey.ofAll(7));
        tiers.reported();
        assertThat(tiers.report().demoted()).as("not reported twice").isEmpty();
    }

    @Test
    void demoteKeepsTheIndexEntryWhenTheKeyWasCommittedAgainElsewhere() throws Exception {
        withSsd(1L << 20);
        CountDownLatch written = new CountDownLatch(1);
        tiers.onDemotionsWritten(written::countDown);
        IndexedBlock old = written(7, 0);
        IndexedBlock again = written(7, 2 * BLOCK);

        // The DEMOTE of the old copy is applied on the mover thread after the new ADD is indexed.
        tiers.submit(updates(1L, Kind.ADD, old, 2L, Kind.ADD, again, 3L, Kind.DEMOTE, old));

        assertThat(written.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(ssd.contains(BlockKey.of(7))).isTrue();
        assertThat(indexed(7)).as("the entry of the newer copy stays").isEqualTo(again);
    }

    @Test
    void aDemoteOfAReusedDramRangeIsReportedAsNotOnSsd() {
        withSsd(1L << 20);
        IndexedBlock b = written(7, 0);
        IndexedBlock reused = new IndexedBlock(BlockKey.of(7), 0, BLOCK, b.crc32c() ^ 1); // the DRAM range holds other bytes now
        tiers.submit(updates(1L, Kind.ADD, b, 2L, Kind.DEMOTE, reused));

        await().atMost(Duration.ofSeconds(10)).until(() -> {
            takeReport();
            return gone.contains(7L);
        });
        assertThat(demoted).doesNotContain(7L);
        assertThat(ssd.contains(BlockKey.of(7))).isFalse();
        assertThat(indexed(7)).as("the DRAM copy stays indexed").isEqualTo(b);
    }

    @Test
    void aDemoteOfABlockLargerThanTheSsdTierIsReportedAsNotOnSsd() {
        withSsd(2 * BLOCK);
        MemorySegment range = slab.memory().asSlice(0, 3 * BLOCK);
        BlockContent.fill(9, range);
        IndexedBlock big = new IndexedBlock(BlockKey.of(9), 0, 3 * BLOCK, BlockContent.crc32c(range));
        tiers.submit(updates(1L, Kind.ADD, big, 2L, Kind.DEMOTE, big));

        await().atMost(Duration.ofSeconds(10)).until(() -> {
            takeReport();
            return gone.contains(9L);
        });
        assertThat(demoted).doesNotContain(9L);
        assertThat(ssd.contains(BlockKey.of(9))).isFalse();
        assertThat(indexed(9)).isEqualTo(big);
    }

    @Test
    void removeTakesTheBlockOffTheSsdTier() throws Exception {
        withSsd(1L << 20);
        IndexedBlock b = written(7, 0);
        committedAndDemoted(b);
        assertThat(ssd.contains(BlockKey.of(7))).isTrue();

        tiers.submit(updates(3L, Kind.REMOVE, new IndexedBlock(BlockKey.of(7), IndexedBlock.ON_SSD, BLOCK, b.crc32c())));

        await().atMost(Duration.ofSeconds(10)).until(() -> !ssd.contains(BlockKey.of(7)));
        assertThat(indexed(7)).isNull();
        assertThat(tiers.applied()).isEqualTo(3);
    }

    @Test
    void loadCopiesTheBlockFromSsdIntoTheGivenRangeAndIndexesIt() throws Exception {
        withSsd(1L << 20);
        IndexedBlock b = written(7, 0);
        committedAndDemoted(b);
        takeReport();
        slab.memory().asSlice(0, BLOCK).fill((byte) 0); // the range was freed and reused meanwhile

        tiers.load(BlockKey.of(7), 3 * BLOCK, BLOCK, b.crc32c());

        assertThat(BlockContent.firstMismatch(7, slab.memory().asSlice(3 * BLOCK, BLOCK))).isEqualTo(-1);
        IndexedBlock promoted = new IndexedBlock(BlockKey.of(7), 3 * BLOCK, BLOCK, b.crc32c());
        assertThat(indexed(7)).isEqualTo(promoted);
        assertThat(tiers.resident().holds(promoted)).isTrue();
        assertThat(takeReport().loaded()).containsExactly(BlockKey.ofAll(7));
    }

    @Test
    void loadRefusesABlockTheSsdDoesNotHoldAndReportsItGone() {
        withSsd(1L << 20);

        assertThatThrownBy(() -> tiers.load(BlockKey.of(42), 0, BLOCK, 0)).isInstanceOf(RpcException.class)
                .extracting(e -> ((RpcException) e).status()).isEqualTo(RpcException.REFUSED);

        assertThat(takeReport().ssdGone()).containsExactly(BlockKey.ofAll(42));
        assertThat(indexed(42)).isNull();
    }

    @Test
    void loadRefusesARangeOutsideTheSlabOrANodeWithoutSsd() {
        withSsd(1L << 20);
        assertThatThrownBy(() -> tiers.load(BlockKey.of(7), 3 * BLOCK + 1, BLOCK, 0)).isInstanceOf(RpcException.class)
                .hasMessageContaining("outside the slab");
        assertThatThrownBy(() -> tiers.load(BlockKey.of(7), -1, BLOCK, 0)).isInstanceOf(RpcException.class)
                .hasMessageContaining("outside the slab");
        assertThat(takeReport().ssdGone()).as("a bad range says nothing about the SSD copy").isEmpty();

        try (NodeTiers none = new NodeTiers(slab, null, null)) {
            assertThatThrownBy(() -> none.load(BlockKey.of(7), 0, BLOCK, 0)).isInstanceOf(RpcException.class)
                    .hasMessageContaining("no SSD tier");
        }
    }
}
