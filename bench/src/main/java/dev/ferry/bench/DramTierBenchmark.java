package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.GetResult;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.master.Replica;
import dev.ferry.transfer.TransferEngine;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * A get through the store's DRAM path against its physical baseline, {@code MemorySegment.copy}
 * of the same blocks from the same slab into the same staging buffer.
 *
 * <p>The DRAM path as a decode node runs it: an in-process {@link MasterService}; a store
 * node's {@link TransferEngine} serving a slab mapped from a {@code /dev/shm} file as segment
 * {@code s1/dram}; a client engine (shared memory on, the default) and {@link StoreClient}.
 * One operation gets {@code getBytes} of blocks of {@code blockBytes} with one call: a lease
 * RPC to the master, one batch of READs (copies through the client's mapping of the slab
 * file), a release RPC. The blocks are committed at setup. {@link #leaseOnly} times the two
 * RPCs alone, to tell the control plane's share of a get from the copy's; {@link #storePut}
 * writes as many new blocks through the same path.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class DramTierBenchmark {
    @Param({"65536", "1048576", "16777216"})
    public int blockBytes;

    /** Bytes one get moves (a whole number of blocks, at least one). */
    @Param({"67108864"})
    public long getBytes;

    private MasterService master;
    private Slab slab;
    private TransferEngine storeEngine;
    private MasterClient masterClient;
    private TransferEngine clientEngine;
    private StoreClient store;
    private Slab staging;
    private BlockKey[] keys;
    private long[] offsets;
    private long nextKey = 1L << 40;

    @Setup(Level.Trial)
    public void setUp() {
        int blocks = (int) Math.max(1, getBytes / blockBytes);
        keys = BlockKey.ofAll(LongStream.range(1, blocks + 1).toArray());
        Path dir = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), 30_000);
        slab = Slab.mapShared(dir.resolve("ferry-bench-dram-" + ProcessHandle.current().pid() + ".slab"),
                (long) blocks * blockBytes, true);
        storeEngine = new TransferEngine(new TransferEngine.Context());
        masterClient = new MasterClient("127.0.0.1", master.port(), 30_000);
        masterClient.register("s1", storeEngine.registerSegment("s1/dram", slab));
        clientEngine = new TransferEngine(new TransferEngine.Context().sharedMemory(true).resolver(masterClient));
        store = new StoreClient(masterClient, clientEngine, 30_000);
        staging = Slab.allocate((long) blocks * blockBytes);
        store.put(keys, blockBytes, staging.memory(), BlockContent::fill);
        Lease lease = master.master().get(keys, 30_000);
        offsets = lease.replicas().stream().mapToLong(copies -> copies.getFirst().offset()).toArray();
        master.master().release(lease.id());
        GetResult check = store.get(keys, blockBytes, staging.memory(), (key, bytes, crc) -> {
            if (BlockContent.firstMismatch(key, bytes) != -1) {
                throw new IllegalStateException("block " + key + " read back wrong");
            }
        });
        if (clientEngine.sharedMemoryBytes() < check.bytes()) {
            throw new IllegalStateException("the get did not go through shared memory");
        }
    }

    @Benchmark
    public long storeGet(Blackhole bh) {
        return store.get(keys, blockBytes, staging.memory(), (key, bytes, crc) -> bh.consume(crc)).bytes();
    }

    /**
     * A put of {@code getBytes} of new blocks, the way prefill writes them: allocate (evicting
     * the previous put's blocks: the slab holds one put's worth), CRC32C each block, one batch
     * of WRITEs through the mapping, commit. Its baseline is the same copy, {@link #memcpyBaseline}.
     */
    @Benchmark
    public long storePut() {
        BlockKey[] fresh = new BlockKey[keys.length];
        for (int i = 0; i < fresh.length; i++) {
            fresh[i] = BlockKey.of(nextKey++);
        }
        return store.put(fresh, blockBytes, staging.memory(), (key, slot) -> { }).bytes();
    }

    /** The control-plane part of {@link #storeGet}: its lease and release RPCs, no bytes moved. */
    @Benchmark
    public boolean leaseOnly() {
        return masterClient.release(masterClient.get(keys, 30_000).id());
    }

    @Benchmark
    public MemorySegment memcpyBaseline() {
        MemorySegment from = slab.memory();
        MemorySegment to = staging.memory();
        for (int i = 0; i < offsets.length; i++) {
            MemorySegment.copy(from, offsets[i], to, (long) i * blockBytes, blockBytes);
        }
        return to;
    }

    /**
     * The physical floor of {@link #storePut}: the same copy into the slab plus the CRC32C of
     * every block, which a put computes for its commit.
     */
    @Benchmark
    public int copyAndCrcBaseline() {
        MemorySegment from = staging.memory();
        MemorySegment to = slab.memory();
        int crc = 0;
        for (int i = 0; i < offsets.length; i++) {
            MemorySegment block = from.asSlice((long) i * blockBytes, blockBytes);
            crc ^= BlockContent.crc32c(block);
            MemorySegment.copy(from, (long) i * blockBytes, to, offsets[i], blockBytes);
        }
        return crc;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        clientEngine.close();
        masterClient.close();
        storeEngine.close();
        master.close();
        staging.close();
        slab.close();
    }
}
