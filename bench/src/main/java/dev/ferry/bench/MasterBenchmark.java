package dev.ferry.bench;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.Lease;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterStats;
import dev.ferry.store.master.NodeFeatures;
import dev.ferry.store.master.NodeReport;
import dev.ferry.store.master.Placement;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The master's operations against how many blocks it holds: a prefix lookup, a put into a
 * full store (so that every block put evicts one; also with the oldest blocks pinned, which
 * the LRU victim search walks past; also into the full DRAM of a node whose SSD tier holds
 * many colder blocks, {@link SsdStore}), a get with its release, a heartbeat and
 * the expiry sweep, on {@link OneThread one thread} and {@link TwoThreads two}, and a get
 * beside a thread that sweeps without pause ({@link BesideTheReaper}).
 *
 * <p>An in-process {@link Master} (LRU) with {@value #NODES} plain store nodes (no SSD tier,
 * no local index), filled at setup with {@code blocks} committed blocks of
 * {@value #BLOCK_BYTES} bytes that fill their segments exactly. Its clock is injected and
 * stands still: nothing times out, no lease expires, every sweep walks the same state, so a
 * run does the same work each time. Keys are a bijective mix of a counter (block hashes in
 * real use), so that a prefix's blocks land in scattered hash buckets, as they do in a real
 * store. Each request names {@value #REQUEST_BLOCKS} blocks at a random resident position
 * (a fixed seed per thread).
 *
 * <p>Sample mode: every {@code Master} method runs whole under the master's monitor, so on
 * one thread an operation's time is how long it holds the lock, and its p1.00 is the longest
 * hold measured. On two threads, the time includes waiting for the other thread's hold.
 * {@link #hashMapBaseline} is the physical floor of a lookup: as many gets from a
 * {@code HashMap} of as many blocks, whose cost also grows with the map as it outgrows the
 * caches.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Xmx3g")
public abstract class MasterBenchmark {
    /** Store nodes, each with one DRAM segment. */
    public static final int NODES = 4;
    /** Bytes of each block (a KV block of a small model). */
    public static final long BLOCK_BYTES = 65_536;
    /** Blocks each request names. */
    public static final int REQUEST_BLOCKS = 16;
    /** The lease time of a get, ms; the clock stands still, so no lease expires. */
    static final long LEASE_MILLIS = 30_000;
    /** Blocks put per call at setup. */
    private static final int FILL_BATCH = 1024;

    /** The master, full, and a {@code HashMap} of the same keys for the baseline. */
    @State(Scope.Benchmark)
    public static class Store {
        /** Blocks resident in the master (committed; the segments hold exactly this many). */
        @Param({"10000", "100000", "1000000"})
        public int blocks;

        Master master;
        Map<BlockKey, Long> baseline;
        final NodeReport heartbeat = NodeReport.ack(0);
        private final AtomicInteger threads = new AtomicInteger();

        @Setup(Level.Trial)
        public void setUp() {
            if (blocks % NODES != 0 || blocks < REQUEST_BLOCKS) {
                throw new IllegalArgumentException("blocks must be a multiple of " + NODES + " and at least "
                        + REQUEST_BLOCKS + ", not " + blocks);
            }
            long now = 1_000_000_000_000L;
            master = new Master(new LruPolicy(), () -> now, Long.MAX_VALUE / 4, Long.MAX_VALUE / 4);
            for (int n = 0; n < NODES; n++) {
                master.registerNode(node(n), new SegmentDescriptor("store-" + n + "/dram",
                        (long) blocks / NODES * BLOCK_BYTES, new Endpoint("127.0.0.1", 10_000 + n)));
            }
            baseline = new HashMap<>();
            for (int from = 0; from < blocks; from += FILL_BATCH) {
                BlockKey[] keys = new BlockKey[Math.min(FILL_BATCH, blocks - from)];
                for (int i = 0; i < keys.length; i++) {
                    keys[i] = key(from + i);
                    baseline.put(keys[i], keys[i].lo());
                }
                put(keys);
            }
            MasterStats stats = master.stats();
            if (stats.blocks() != blocks || stats.usedBytes() != stats.capacityBytes() || stats.evictions() != 0) {
                throw new IllegalStateException("setup left " + stats + ", not a full store of " + blocks + " blocks");
            }
        }

        /** Every benchmark leaves the store as full as it found it. */
        @TearDown(Level.Trial)
        public void check() {
            MasterStats stats = master.stats();
            if (stats.blocks() != blocks || stats.pendingBlocks() != 0 || stats.leases() != 0) {
                throw new IllegalStateException("the run left " + stats + ", not " + blocks + " committed blocks");
            }
        }

        /** Puts and commits new keys; returns how many. */
        int put(BlockKey[] keys) {
            List<Placement> placements = master.putStart(keys, BLOCK_BYTES);
            if (placements.size() != keys.length || placements.stream().anyMatch(Placement::exists)) {
                throw new IllegalStateException("a put of " + keys.length + " new keys placed " + placements);
            }
            master.putCommit(keys, new int[keys.length]);
            return keys.length;
        }

        /** A get (lease) of the keys and its release; false when the lease had expired. */
        boolean getRelease(BlockKey[] keys) {
            Lease lease = master.get(keys, LEASE_MILLIS);
            return master.release(lease.id());
        }

        int nextThread() {
            return threads.getAndIncrement();
        }
    }

    /** One thread's requests: random resident windows, and fresh keys for puts. */
    @State(Scope.Thread)
    public static class Requests {
        final BlockKey[] keys = new BlockKey[REQUEST_BLOCKS];
        private SplittableRandom random;
        private int blocks;
        private long nextFresh;
        private int node;

        @Setup(Level.Trial)
        public void setUp(Store store) {
            int thread = store.nextThread();
            random = new SplittableRandom(thread);
            blocks = store.blocks;
            nextFresh = ((long) thread + 1) << 40; // past every resident key's counter, apart per thread
            node = thread;
        }

        /** {@link #REQUEST_BLOCKS} consecutive resident blocks from a random position. */
        BlockKey[] resident() {
            int from = random.nextInt(blocks - REQUEST_BLOCKS + 1);
            for (int i = 0; i < keys.length; i++) {
                keys[i] = key(from + i);
            }
            return keys;
        }

        /** {@link #REQUEST_BLOCKS} keys never put before. */
        BlockKey[] fresh() {
            for (int i = 0; i < keys.length; i++) {
                keys[i] = key(nextFresh++);
            }
            return keys;
        }

        String nextNode() {
            node = (node + 1) % NODES;
            return node(node);
        }
    }

    /**
     * The oldest {@value #PINNED_PERCENT}% of the blocks hard-pinned (blocks that are kept but
     * seldom read, such as a pinned system prompt): a put's LRU victim search walks past them.
     */
    @State(Scope.Benchmark)
    public static class Pins {
        /** Share of the blocks pinned, percent. */
        public static final int PINNED_PERCENT = 1;

        @Setup(Level.Trial)
        public void pin(Store store) {
            int pinned = store.blocks / 100 * PINNED_PERCENT;
            BlockKey[] keys = new BlockKey[pinned];
            for (int i = 0; i < pinned; i++) {
                keys[i] = key(i); // filled first, so the least recently used
            }
            if (store.master.pin(keys, true, 0) != pinned) {
                throw new IllegalStateException("pinned fewer than " + pinned + " blocks");
            }
        }
    }

    /**
     * A master with one SSD-backed node: {@value #SSD_STORE_DRAM_BLOCKS} blocks fill its DRAM
     * and {@code ssdBlocks} more are only on its SSD (the node kept them when it registered, so
     * they are the least recently used). Its SSD reports itself full, so the master asks for
     * no demotion and a put evicts from DRAM at once: each eviction searches for a DRAM victim
     * (and first for a DRAM copy also on SSD) while the SSD-only blocks are colder.
     */
    @State(Scope.Benchmark)
    public static class SsdStore {
        /** Blocks in the node's DRAM. */
        public static final int SSD_STORE_DRAM_BLOCKS = 4096;

        /** Blocks only on the node's SSD. */
        @Param({"10000", "1000000"})
        public int ssdBlocks;

        Store store;
        private final java.util.concurrent.atomic.AtomicLong nextFresh = new java.util.concurrent.atomic.AtomicLong(1L << 40);

        /** {@link #REQUEST_BLOCKS} keys never put before. */
        BlockKey[] fresh() {
            BlockKey[] keys = new BlockKey[REQUEST_BLOCKS];
            long from = nextFresh.getAndAdd(REQUEST_BLOCKS);
            for (int i = 0; i < keys.length; i++) {
                keys[i] = key(from + i);
            }
            return keys;
        }

        @Setup(Level.Trial)
        public void setUp() {
            long now = 1_000_000_000_000L;
            Master master = new Master(new LruPolicy(), () -> now, Long.MAX_VALUE / 4, Long.MAX_VALUE / 4);
            List<IndexedBlock> kept = new ArrayList<>(ssdBlocks);
            for (int i = 0; i < ssdBlocks; i++) {
                kept.add(new IndexedBlock(key(-1L - i), IndexedBlock.ON_SSD, BLOCK_BYTES, 0));
            }
            if (master.registerNode(node(0), new SegmentDescriptor("store-0/dram",
                    SSD_STORE_DRAM_BLOCKS * BLOCK_BYTES, new Endpoint("127.0.0.1", 10_000)),
                    new NodeFeatures(false, 2L * ssdBlocks * BLOCK_BYTES, "127.0.0.1:9"), kept) != ssdBlocks) {
                throw new IllegalStateException("the master took back fewer than " + ssdBlocks + " SSD blocks");
            }
            master.heartbeat(node(0), NodeReport.ack(0).withSsd(SsdHealth.FULL));
            store = new Store();
            store.master = master;
            store.blocks = SSD_STORE_DRAM_BLOCKS + ssdBlocks;
            for (int from = 0; from < SSD_STORE_DRAM_BLOCKS; from += FILL_BATCH) {
                BlockKey[] keys = new BlockKey[FILL_BATCH];
                for (int i = 0; i < keys.length; i++) {
                    keys[i] = key(from + i);
                }
                store.put(keys);
            }
            MasterStats stats = master.stats();
            if (stats.blocks() != store.blocks || stats.usedBytes() != stats.capacityBytes() || stats.evictions() != 0) {
                throw new IllegalStateException("setup left " + stats + ", not a full DRAM and " + ssdBlocks
                        + " SSD-only blocks");
            }
        }

        /** Every put left the store as full as it found it, and evicted only from DRAM. */
        @TearDown(Level.Trial)
        public void check() {
            MasterStats stats = store.master.stats();
            if (stats.blocks() != store.blocks || stats.pendingBlocks() != 0 || stats.ssdBlocks() != ssdBlocks) {
                throw new IllegalStateException("the run left " + stats + ", not " + store.blocks + " blocks");
            }
        }
    }

    static String node(int n) {
        return "store-" + n;
    }

    /**
     * The block key of counter {@code i}, 128 bits as a digest's: both halves from MurmurHash3's
     * 64-bit finalizer (a bijection, so distinct counters give distinct keys).
     */
    static BlockKey key(long i) {
        long hi = murmur(i + 1);
        return new BlockKey(hi, murmur(hi));
    }

    private static long murmur(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }

    /** A prefix lookup of 16 resident blocks (all hit; each is touched in the LRU order). */
    @Benchmark
    public int lookupPrefix(Store store, Requests requests) {
        return store.master.lookupPrefix(requests.resident());
    }

    /** The floor of {@link #lookupPrefix}: 16 gets from a {@code HashMap} of as many blocks. */
    @Benchmark
    public long hashMapBaseline(Store store, Requests requests) {
        long sum = 0;
        for (BlockKey key : requests.resident()) {
            sum += store.baseline.get(key);
        }
        return sum;
    }

    /** putStart and putCommit of 16 new blocks into the full store: each evicts the LRU block. */
    @Benchmark
    public int putEvicting(Store store, Requests requests) {
        return store.put(requests.fresh());
    }

    /**
     * {@link #putEvicting} with the oldest blocks hard-pinned ({@link Pins}): each eviction
     * walks the LRU order past them.
     */
    @Benchmark
    public int putPastPinned(Store store, Pins pins, Requests requests) {
        return store.put(requests.fresh());
    }

    /**
     * {@link #putEvicting} into the full DRAM of a node whose SSD tier holds {@code ssdBlocks}
     * colder blocks ({@link SsdStore}): the victim searches meet only DRAM blocks.
     */
    @Benchmark
    public int putEvictingWithSsd(SsdStore ssd) {
        return ssd.store.put(ssd.fresh());
    }

    /** A get (lease) of 16 resident blocks and its release. */
    @Benchmark
    public boolean getRelease(Store store, Requests requests) {
        return store.getRelease(requests.resident());
    }

    /** One node's heartbeat, acknowledging nothing (a plain node has no index updates). */
    @Benchmark
    public List<?> heartbeat(Store store, Requests requests) {
        return store.master.heartbeat(requests.nextNode(), store.heartbeat);
    }

    /** The expiry sweep with nothing to expire (the clock stands still). */
    @Benchmark
    public List<String> expire(Store store) {
        return store.master.expire();
    }

    /** Every operation, one thread at a time: each time is a hold of the master's lock. */
    @Threads(1)
    public static class OneThread extends MasterBenchmark {
    }

    /** Every operation from two threads at once, contending for the master's lock. */
    @Threads(2)
    public static class TwoThreads extends MasterBenchmark {
    }

    /**
     * A get and release on one thread while another sweeps back to back, as the master's
     * reaper would under a much shorter period: the get's tail shows what a sweep's hold of
     * the lock costs the requests behind it.
     */
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @Warmup(iterations = 2, time = 1)
    @Measurement(iterations = 3, time = 1)
    @Fork(value = 1, jvmArgsAppend = "-Xmx3g")
    public static class BesideTheReaper {
        @Benchmark
        @Group("reaper")
        @GroupThreads(1)
        public boolean getRelease(Store store, Requests requests) {
            return store.getRelease(requests.resident());
        }

        @Benchmark
        @Group("reaper")
        @GroupThreads(1)
        public List<String> expire(Store store) {
            return store.master.expire();
        }
    }
}
