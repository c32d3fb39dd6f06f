package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
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
 * What a byte costs on this machine, the physical figures that bound every transport's
 * ratio to its baseline: CRC32C (the JDK's intrinsic, as every slice takes it) and
 * {@code MemorySegment.copy}, each over bytes in cache or in DRAM. One operation handles one
 * {@code chunkBytes} piece; in DRAM ({@code place=dram}) the pieces walk through 256 MiB, so
 * that each is read from memory, as a transfer's source is; in cache ({@code place=cache})
 * the same piece is taken again and again, as a receiver checksums what it has just copied.
 *
 * <p>A transport's engine pays what its raw baseline pays (the kernel's or Aeron's copies)
 * plus a CRC32C of every payload on each side: the sender's reads the source from DRAM, the
 * receiver's reads what it has just written. Where CRC32C from DRAM is about as slow as a
 * copy, as on the development machine on 2026-12-02 (docs/benchmarks-log.md), the sender's
 * checksum alone costs the engine nearly one more pass over every byte.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ChecksumBenchmark {
    /** Bytes the DRAM pieces walk through (256 MiB: well past any cache here). */
    public static final long SPAN_BYTES = 256L << 20;

    @Param({"65536", "1048576"})
    public int chunkBytes;

    /** {@code dram}: each piece read from memory; {@code cache}: the same piece again. */
    @Param({"dram", "cache"})
    public String place;

    private Slab source;
    private Slab sink;
    private ByteBuffer sourceBytes;
    private final CRC32C crc = new CRC32C();
    private long at;

    @Setup(Level.Trial)
    public void setUp() {
        long span = place.equals("dram") ? SPAN_BYTES : chunkBytes;
        source = Slab.allocate(span);
        sink = Slab.allocate(span);
        source.memory().fill((byte) 5);
        sink.memory().fill((byte) 0);
        sourceBytes = source.memory().asByteBuffer();
    }

    private int next() {
        int from = (int) at;
        at = (at + chunkBytes) % source.memory().byteSize();
        return from;
    }

    /** CRC32C of one piece. */
    @Benchmark
    public long crc32c() {
        int from = next();
        crc.reset();
        crc.update(sourceBytes.limit(from + chunkBytes).position(from));
        return crc.getValue();
    }

    /** One piece copied to the same offset of another slab. */
    @Benchmark
    public MemorySegment copy() {
        int from = next();
        MemorySegment.copy(source.memory(), from, sink.memory(), from, chunkBytes);
        return sink.memory();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        source.close();
        sink.close();
    }
}
