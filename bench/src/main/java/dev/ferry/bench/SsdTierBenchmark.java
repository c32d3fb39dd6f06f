package dev.ferry.bench;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.tier.SsdRocksDb;
import dev.ferry.store.tier.SsdTier;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
import org.rocksdb.RocksDBException;

/**
 * Put and get of one block through {@link SsdTier} against its physical baseline, a raw
 * RocksDB put and get of the same bytes through the same options ({@link SsdRocksDb}, the
 * tier's BlobDB column family, direct buffers), in a directory of its own.
 *
 * <p>The data set is bounded to {@code dataSetBytes} per store: gets cycle over that many
 * bytes of blocks written (and flushed to blob files) at setup; puts write fresh keys, the
 * tier evicting its least recently used block to stay within a capacity of
 * {@code dataSetBytes} (its deletion goes in the same batch as the put), the raw baseline
 * overwriting its blocks in turn (one write per put either way, and the same garbage for
 * blob GC).
 * The tier's extra work per operation is the measured cost: the hand-off to its I/O thread,
 * the CRC32C of the bytes, the metadata record and the eviction bookkeeping.
 *
 * <p>Files go to {@code -Dferry.bench.dir} (default {@code java.io.tmpdir}; use a directory on
 * the SSD to be measured) and are deleted at the end.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class SsdTierBenchmark {
    @Param({"65536", "1048576", "16777216"})
    public int blockBytes;

    /** Bytes of blocks each store holds. */
    @Param({"268435456"})
    public long dataSetBytes;

    private Path root;
    private Arena arena;
    private MemorySegment block;
    private int crc32c;
    private MemorySegment dst;
    private SsdTier tier;
    private SsdRocksDb raw;
    private ByteBuffer rawKey;
    private long blocks;
    private long nextGet;
    private long nextPut;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        blocks = Math.max(2, dataSetBytes / blockBytes);
        root = Files.createTempDirectory(Path.of(System.getProperty("ferry.bench.dir", System.getProperty("java.io.tmpdir"))),
                "ferry-ssd-bench-");
        arena = Arena.ofShared();
        block = arena.allocate(blockBytes, 4096);
        BlockContent.fill(7, block);
        crc32c = BlockContent.crc32c(block);
        dst = arena.allocate(blockBytes, 4096);
        rawKey = ByteBuffer.allocateDirect(BlockKey.BYTES);
        tier = SsdTier.open(root.resolve("tier"), blocks * blockBytes, new LruPolicy(), 2);
        raw = SsdRocksDb.open(root.resolve("raw"), SsdRocksDb.DEFAULT_WRITE_BUFFER_BYTES);
        for (long key = 0; key < blocks; key++) {
            tier.put(BlockKey.of(key), block, crc32c).join();
            raw.db().put(raw.blocks(), raw.writeOptions(), key(rawKey, key), block.asByteBuffer());
        }
        // Both closed (the tier flushes on close) and reopened: both read from blob files, and
        // neither has background work left over from the setup.
        raw.flush();
        raw.close();
        tier.close();
        raw = SsdRocksDb.open(root.resolve("raw"), SsdRocksDb.DEFAULT_WRITE_BUFFER_BYTES);
        tier = SsdTier.open(root.resolve("tier"), blocks * blockBytes, new LruPolicy(), 2);
        nextPut = blocks;
    }

    /** The baseline's RocksDB key: the tier's own 16-byte form, so both look up keys of one size. */
    private static ByteBuffer key(ByteBuffer buffer, long key) {
        return BlockKey.of(key).write(buffer.clear()).flip();
    }

    @Benchmark
    public long tierGet() {
        return tier.get(BlockKey.of(nextGet++ % blocks), dst).join();
    }

    @Benchmark
    public int rawGet() throws RocksDBException {
        return raw.db().get(raw.blocks(), raw.readOptions(), key(rawKey, nextGet++ % blocks), dst.asByteBuffer());
    }

    @Benchmark
    public void tierPut() {
        tier.put(BlockKey.of(nextPut++), block, crc32c).join();
    }

    @Benchmark
    public void rawPut() throws RocksDBException {
        raw.db().put(raw.blocks(), raw.writeOptions(), key(rawKey, nextPut++ % blocks), block.asByteBuffer());
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        tier.close();
        raw.close();
        arena.close();
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
