package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.cluster.report.ReplaySummary;
import dev.ferry.cluster.report.RequestResult;
import dev.ferry.nativemem.Slab;
import dev.ferry.prefill.trace.TraceRequest;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.Replica;
import dev.ferry.store.model.ModelProfile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pages of a store node's slab file overwritten in the middle of a replay (two replicas per
 * block): no request fails, decode verifies every byte of every block (no corrupt block is
 * handed over), and the corrupt copies are dropped, by the readers that met them or by the
 * node's scrub, and counted by the master.
 */
class CorruptSlabTest {
    private static final ModelProfile TINY = ModelProfile.byName("tiny");
    private static final long CAPACITY = 1000;

    @Test
    void corruptPagesMidReplayBecomeReadsOfTheOtherReplicaAndAreDropped(@TempDir Path dir) throws Exception {
        List<TraceRequest> trace = Traces.realOrGenerated(120);
        List<RequestResult> results = new ArrayList<>();
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Config(TINY, CAPACITY, 2, 2, "shm", "lru", 0, 2,
                0, dir, false));
             MasterClient master = new MasterClient(cluster.master().host(), cluster.master().port(), 5_000)) {
            Replay replay = new Replay(cluster.prefill(), 0, 1, 60_000);
            results.addAll(replay.run(trace.subList(0, 60), r -> { }));

            long slabBytes = CAPACITY / 2 * TINY.blockBytes();
            List<Replica> corrupted = new ArrayList<>();
            try (Slab store1 = Slab.mapExisting(slabFile(dir.resolve("store-1.log")), slabBytes);
                 Slab store2 = Slab.mapExisting(slabFile(dir.resolve("store-2.log")), slabBytes)) {
                // One page of the copy readers take first (on either node) of blocks of the first
                // requests: key 0 starts every request, so the next one reads it at once.
                long[] keys = trace.subList(0, 60).stream().flatMapToLong(r -> LongStream.of(r.blockKeys()))
                        .distinct().limit(40).toArray();
                Lease lease = master.get(BlockKey.ofAll(keys), 10_000);
                List<long[]> keepIntact = new ArrayList<>(); // store-1 copies whose twin on store-2 is hit
                for (List<Replica> copies : lease.replicas()) {
                    if (copies.size() != 2) {
                        continue;
                    }
                    Replica first = copies.getFirst();
                    Slab slab = first.segment().equals("store-1/dram") ? store1 : store2;
                    flip(slab.memory().asSlice(first.offset() + Slab.PAGE_BYTES, Slab.PAGE_BYTES));
                    corrupted.add(first);
                    Replica other = copies.get(1);
                    if (other.segment().equals("store-1/dram")) {
                        keepIntact.add(new long[] {other.offset(), other.offset() + other.length()});
                    }
                }
                master.release(lease.id());
                // And 160 pages anywhere in store-1's slab (stored blocks or free space), sparing
                // the copies that are now the only intact ones of their blocks.
                Random random = new Random(7);
                for (int hit = 0; hit < 160; ) {
                    long at = random.nextLong(slabBytes / Slab.PAGE_BYTES) * Slab.PAGE_BYTES;
                    if (keepIntact.stream().noneMatch(r -> at + Slab.PAGE_BYTES > r[0] && at < r[1])) {
                        flip(store1.memory().asSlice(at, Slab.PAGE_BYTES));
                        hit++;
                    }
                }
            }
            assertThat(corrupted).isNotEmpty();

            results.addAll(replay.run(trace.subList(60, trace.size()), r -> { }));

            ReplaySummary summary = ReplaySummary.of(results, 1);
            assertThat(summary.failed()).isZero();
            assertThat(summary.verifyFailures()).isZero();
            assertThat(summary.blocksRead()).isEqualTo(trace.stream().mapToLong(r -> r.blockKeys().length).sum());
            // Every targeted copy still listed is intact: the corrupt ones were dropped (by a
            // reader or the scrub), or evicted and written again.
            try (Slab store1 = Slab.mapExisting(slabFile(dir.resolve("store-1.log")), slabBytes);
                 Slab store2 = Slab.mapExisting(slabFile(dir.resolve("store-2.log")), slabBytes)) {
                await().atMost(Duration.ofSeconds(60)).until(() -> corrupted.stream().noneMatch(c -> stillListedAndCorrupt(
                        master, (c.segment().equals("store-1/dram") ? store1 : store2).memory(), c)));
            }
            assertThat(master.stats().corruptCopies()).isPositive();
        }
    }

    private static boolean stillListedAndCorrupt(MasterClient master, MemorySegment slab, Replica corrupted) {
        Lease lease = master.get(new BlockKey[] {corrupted.key()}, 10_000);
        try {
            return lease.replicas().getFirst().stream().anyMatch(r -> r.segment().equals(corrupted.segment())
                    && r.offset() == corrupted.offset()
                    && BlockContent.crc32c(slab.asSlice(r.offset(), r.length())) != r.crc32c());
        } finally {
            master.release(lease.id());
        }
    }

    private static void flip(MemorySegment page) {
        for (long i = 0; i < page.byteSize(); i += 8) {
            page.set(ValueLayout.JAVA_LONG_UNALIGNED, i, ~page.get(ValueLayout.JAVA_LONG_UNALIGNED, i));
        }
    }

    private static Path slabFile(Path log) throws Exception {
        Matcher m = Pattern.compile("FERRY-READY role=store .* file=(\\S+)").matcher(Files.readString(log));
        assertThat(m.find()).as("ready line in " + log).isTrue();
        return Path.of(m.group(1));
    }
}
