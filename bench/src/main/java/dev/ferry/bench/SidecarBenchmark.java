package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.BlockSink;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.sidecar.Sidecar;
import dev.ferry.store.sidecar.Memfd;
import dev.ferry.store.sidecar.SidecarClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
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

/**
 * Latency of a get of one 64 KiB block through the sidecar (a client on its Unix socket,
 * the block read into the client's /dev/shm buffer) beside its baseline, a get of the same
 * block by an in-process {@link StoreClient} over the sidecar's own engine and master (the
 * same store path without the socket and frame handling), which takes a lease from the
 * embedded master over RPC and releases it on every get. With {@code leaseCache=true} (the
 * sidecar's default) the sidecar keeps the lease of its own node's block for a second and
 * serves the gets in between on its event loop with one copy from its slab; with
 * {@code false} every sidecar get takes and releases a lease too, on a request thread, by
 * a direct call on the master it embeds.
 * SampleTime: read p50/p99 from JMH's percentiles.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SidecarBenchmark {
    /** Block size, bytes (64 KiB). */
    public static final long BLOCK = 64 * 1024;
    private static final long KEY = 4242;

    /** Whether the sidecar keeps the leases of its own blocks (its default) or takes one per get. */
    @Param({"true", "false"})
    public boolean leaseCache;

    private Path dir;
    private Sidecar sidecar;
    private SidecarClient client;
    private Memfd clientBuffer;
    private int bufferId;
    private StoreClient store;
    private Slab staging;
    private final BlockKey[] keys = {BlockKey.of(KEY)};
    private final BlockSink sink = (key, bytes, crc) -> { };

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("ferry-bench-sc");
        Sidecar.Context context = new Sidecar.Context().socketPath(dir.resolve("s.sock")).capacityBytes(64 << 20)
                .nodeId("bench-" + ProcessHandle.current().pid());
        sidecar = new Sidecar(leaseCache ? context : context.leaseCacheMillis(0));
        client = SidecarClient.connect(sidecar.socketPath());
        clientBuffer = new Memfd(2 * BLOCK);
        bufferId = client.registerBuffer(clientBuffer.path(), 2 * BLOCK); // before mapping: the sidecar is in-process
        BlockContent.fill(KEY, clientBuffer.memory().asSlice(0, BLOCK));
        client.put(keys, bufferId, new long[] {0}, new long[] {BLOCK});
        store = sidecar.storeClient();
        staging = Slab.allocate(BLOCK);
        if (client.get(KEY, bufferId, BLOCK, BLOCK) != BLOCK
                || BlockContent.firstMismatch(KEY, clientBuffer.memory().asSlice(BLOCK, BLOCK)) != -1) {
            throw new IllegalStateException("sidecar get returned wrong bytes");
        }
    }

    @Benchmark
    public long sidecarGetOverUnixSocket() {
        return client.get(KEY, bufferId, BLOCK, BLOCK);
    }

    @Benchmark
    public long inProcessStoreClientGet() {
        return store.get(keys, BLOCK, staging.memory(), sink).bytes();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        client.close();
        sidecar.close();
        clientBuffer.close();
        staging.close();
        Files.deleteIfExists(dir);
    }
}
