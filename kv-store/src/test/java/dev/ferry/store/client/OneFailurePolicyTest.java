package dev.ferry.store.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterApi;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.master.Placement;
import dev.ferry.transfer.TransferEngine;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Both API shapes of the store client ({@link StoreClient} through a staging buffer,
 * {@link DirectStoreClient} straight from the caller's memory) follow one failure policy:
 * when one replica's node dies, a batch that reads from it and from a live node reports only
 * the dead node's segment to the master and reads the failed blocks from their other copies;
 * a put whose node died is placed again on the nodes still alive; a ranged read fails over
 * like a whole-block one. A master, two store nodes'
 * engines and slabs, and a client engine, in one JVM over loopback.
 */
class OneFailurePolicyTest {
    private static final long BLOCK = 64 * 1024;

    /** The two API shapes, over the same master (which records the segments suspected). */
    enum Shape {
        STAGED, DIRECT;

        Client open(MasterApi master, MasterClient rpc, TransferEngine engine) {
            return switch (this) {
                case STAGED -> new Client() {
                    final StoreClient store = new StoreClient(master, rpc::renew, engine, 10_000, 1, null);
                    final Slab staging = Slab.allocate(8 * BLOCK);

                    @Override
                    public void put(BlockKey[] keys) {
                        store.put(keys, BLOCK, staging.memory(), BlockContent::fill);
                    }

                    @Override
                    public List<BlockKey> getVerified(BlockKey[] keys) {
                        List<BlockKey> good = new ArrayList<>();
                        store.get(keys, BLOCK, staging.memory(), (key, bytes, crc) -> {
                            if (BlockContent.firstMismatch(key, bytes) == -1) {
                                good.add(key);
                            }
                        });
                        return good;
                    }

                    @Override
                    public void close() {
                        store.close();
                        staging.close();
                    }
                };
                case DIRECT -> new Client() {
                    final DirectStoreClient store = new DirectStoreClient(master, engine, 10_000);
                    final Slab memory = Slab.allocate(8 * BLOCK);

                    @Override
                    public void put(BlockKey[] keys) {
                        MemorySegment[] blocks = new MemorySegment[keys.length];
                        for (int i = 0; i < keys.length; i++) {
                            blocks[i] = memory.memory().asSlice(i * BLOCK, BLOCK);
                            BlockContent.fill(keys[i], blocks[i]);
                        }
                        store.put(keys, blocks);
                    }

                    @Override
                    public List<BlockKey> getVerified(BlockKey[] keys) {
                        MemorySegment[] dest = new MemorySegment[keys.length];
                        for (int i = 0; i < keys.length; i++) {
                            dest[i] = memory.memory().asSlice(i * BLOCK, BLOCK);
                            dest[i].fill((byte) 0);
                        }
                        long[] lengths = store.get(keys, replicas -> dest);
                        List<BlockKey> good = new ArrayList<>();
                        for (int i = 0; i < keys.length; i++) {
                            if (lengths[i] == BLOCK && BlockContent.firstMismatch(keys[i], dest[i]) == -1) {
                                good.add(keys[i]);
                            }
                        }
                        assertThat(store.leasesHeld()).isZero();
                        return good;
                    }

                    @Override
                    public void close() {
                        store.close();
                        memory.close();
                    }
                };
            };
        }
    }

    interface Client extends AutoCloseable {
        void put(BlockKey[] keys);

        /** Reads the blocks; returns the keys whose bytes came back right. */
        List<BlockKey> getVerified(BlockKey[] keys);

        @Override
        void close();
    }

    private MasterService master;
    private MasterClient rpc;
    private final List<String> suspected = new CopyOnWriteArrayList<>();
    private MasterApi recording;
    private Slab slab1;
    private Slab slab2;
    private TransferEngine node1;
    private TransferEngine node2;
    private TransferEngine clientEngine;

    @BeforeEach
    void start() {
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), 60_000);
        rpc = new MasterClient("127.0.0.1", master.port(), 5_000);
        recording = new SuspectRecorder(rpc, suspected);
        slab1 = Slab.allocate(16 * BLOCK);
        slab2 = Slab.allocate(32 * BLOCK); // more room: the master places new blocks there first
        node1 = new TransferEngine(new TransferEngine.Context());
        node2 = new TransferEngine(new TransferEngine.Context());
        rpc.register("n1", node1.registerSegment("n1/dram", slab1.memory()));
        rpc.register("n2", node2.registerSegment("n2/dram", slab2.memory()));
        clientEngine = new TransferEngine(new TransferEngine.Context().resolver(rpc));
    }

    @AfterEach
    void stop() {
        clientEngine.close();
        node2.close();
        node1.close();
        rpc.close();
        master.close();
        slab1.close();
        slab2.close();
    }

    @ParameterizedTest
    @EnumSource(Shape.class)
    void aBatchWhoseReplicaNodeDiedIsReadFromTheOtherCopiesAndOnlyTheDeadSegmentIsSuspected(Shape shape) {
        // Blocks 30..33: two copies, the first on n2. Blocks 40, 41: one copy, on n1.
        try (StoreClient writer = new StoreClient(rpc, clientEngine, 10_000, 2, "n2/dram");
             StoreClient single = new StoreClient(rpc, clientEngine, 10_000, 1, "n1/dram");
             Slab staging = Slab.allocate(4 * BLOCK)) {
            writer.put(BlockKey.ofAll(30, 31, 32, 33), BLOCK, staging.memory(), BlockContent::fill);
            single.put(BlockKey.ofAll(40, 41), BLOCK, staging.memory(), BlockContent::fill);
        }
        Lease lease = rpc.get(BlockKey.ofAll(30, 40), 1_000);
        assertThat(lease.replicas().get(0).getFirst().segment()).isEqualTo("n2/dram");
        assertThat(lease.replicas().get(1)).extracting(r -> r.segment()).containsExactly("n1/dram");
        rpc.release(lease.id());

        node2.close(); // n2 held the first copy of 30..33

        try (Client client = shape.open(recording, rpc, clientEngine)) {
            // One batch: reads from the dead n2 fail, reads from the live n1 succeed.
            assertThat(client.getVerified(BlockKey.ofAll(30, 40, 31, 41, 32, 33)))
                    .containsExactly(BlockKey.ofAll(30, 40, 31, 41, 32, 33));
        }
        assertThat(suspected).containsOnly("n2/dram").isNotEmpty();
        assertThat(master.master().stats().nodes()).isEqualTo(1);
        assertThat(master.master().stats().lostBlocks()).isZero();
        // A short get releases its lease without waiting for the master's answer.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(master.master().stats().leases()).isZero());
    }

    @ParameterizedTest
    @EnumSource(Shape.class)
    void aPutWhoseNodeDiedIsPlacedAgainOnTheNodesStillAlive(Shape shape) {
        // The master would place on n2 (the most free bytes), whose node is dead and not yet known to be.
        List<Placement> probe = rpc.putStart(BlockKey.ofAll(99), BLOCK, 1, null);
        assertThat(probe.getFirst().segment()).isEqualTo("n2/dram");
        rpc.putAbort(BlockKey.ofAll(99));
        node2.close();

        try (Client client = shape.open(recording, rpc, clientEngine)) {
            client.put(BlockKey.ofAll(50, 51, 52));
            assertThat(client.getVerified(BlockKey.ofAll(50, 51, 52))).containsExactly(BlockKey.ofAll(50, 51, 52));
        }
        assertThat(suspected).containsOnly("n2/dram").isNotEmpty();
        assertThat(master.master().stats().nodes()).isEqualTo(1);
        assertThat(master.master().stats().pendingBlocks()).isZero();
        assertThat(master.master().stats().blocks()).isEqualTo(3);
    }

    @Test
    void aRangedReadWhoseReplicaNodeDiedIsReadFromTheOtherCopy() {
        try (StoreClient writer = new StoreClient(rpc, clientEngine, 10_000, 2, "n2/dram");
             Slab staging = Slab.allocate(BLOCK);
             Slab dest = Slab.allocate(2 * 4096);
             DirectStoreClient direct = new DirectStoreClient(recording, clientEngine, 10_000)) {
            writer.put(BlockKey.ofAll(60, 61), BLOCK, staging.memory(), BlockContent::fill);
            node2.close(); // n2 held the first copy of both

            direct.readRanges(BlockKey.ofAll(60, 61), new long[] {4096, BLOCK - 4096},
                    new MemorySegment[] {dest.memory().asSlice(0, 4096), dest.memory().asSlice(4096, 4096)});
            MemorySegment whole = staging.memory();
            BlockContent.fill(60, whole);
            assertThat(dest.memory().asSlice(0, 4096).mismatch(whole.asSlice(4096, 4096))).isEqualTo(-1);
            BlockContent.fill(61, whole);
            assertThat(dest.memory().asSlice(4096, 4096).mismatch(whole.asSlice(BLOCK - 4096, 4096))).isEqualTo(-1);
            assertThat(direct.leasesHeld()).isZero();
        }
        assertThat(suspected).containsOnly("n2/dram").isNotEmpty();
    }

    /** The master over RPC, with a note of every segment a client reports. */
    private record SuspectRecorder(MasterClient rpc, List<String> suspected) implements MasterApi {
        @Override
        public int lookupPrefix(BlockKey[] keys) {
            return rpc.lookupPrefix(keys);
        }

        @Override
        public boolean[] exists(BlockKey[] keys) {
            return rpc.exists(keys);
        }

        @Override
        public byte[] remove(BlockKey[] keys) {
            return rpc.remove(keys);
        }

        @Override
        public long removeAll(boolean force) {
            return rpc.removeAll(force);
        }

        @Override
        public long removeByRegex(String pattern, boolean force) {
            return rpc.removeByRegex(pattern, force);
        }

        @Override
        public int pin(BlockKey[] keys, boolean hard, long ttlMillis) {
            return rpc.pin(keys, hard, ttlMillis);
        }

        @Override
        public List<Placement> putStart(BlockKey[] keys, long blockBytes, int replicas, String preferredSegment) {
            return rpc.putStart(keys, blockBytes, replicas, preferredSegment);
        }

        @Override
        public void putCommit(BlockKey[] keys, int[] crcs) {
            rpc.putCommit(keys, crcs);
        }

        @Override
        public void putAbort(BlockKey[] keys) {
            rpc.putAbort(keys);
        }

        @Override
        public Lease get(BlockKey[] keys, long ttlMillis) {
            return rpc.get(keys, ttlMillis);
        }

        @Override
        public boolean release(long leaseId) {
            return rpc.release(leaseId);
        }

        @Override
        public void releaseLater(long leaseId) {
            rpc.releaseLater(leaseId);
        }

        @Override
        public boolean suspect(String segment) {
            suspected.add(segment);
            return rpc.suspect(segment);
        }

        @Override
        public boolean dropCorrupt(BlockKey key, String segment, long offset, int crc32c) {
            return rpc.dropCorrupt(key, segment, offset, crc32c);
        }
    }
}
