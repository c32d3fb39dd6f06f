package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
 * WRITE through the shared-memory transport (the target's slab is a /dev/shm file the
 * initiator maps) against its physical baseline, {@code MemorySegment.copy} of the same
 * bytes into a mapping of the same file. One operation moves one request of
 * {@code requestBytes}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ShmTransferBenchmark {
    @Param({"65536", "1048576", "4194304"})
    public int requestBytes;

    private Slab source;
    private Slab targetSlab;
    private Slab mapped;
    private TransferEngine target;
    private TransferEngine initiator;
    private List<TransferRequest> request;
    private List<TransferRequest> readRequest;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path dir = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
        Path file = dir.resolve("ferry-bench-" + ProcessHandle.current().pid() + ".slab");
        source = Slab.allocate(requestBytes);
        source.memory().fill((byte) 3);
        targetSlab = Slab.mapShared(file, requestBytes, true);
        mapped = Slab.mapExisting(file, requestBytes);
        target = new TransferEngine(new TransferEngine.Context());
        SegmentDescriptor d = target.registerSegment("shm", targetSlab);
        initiator = new TransferEngine(new TransferEngine.Context().resolver(name -> d));
        request = List.of(TransferRequest.write(source.memory(), 0, "shm", 0, requestBytes));
        readRequest = List.of(TransferRequest.read(source.memory(), 0, "shm", 0, requestBytes));
    }

    @Benchmark
    public void engineWrite() {
        initiator.submit(request).await();
    }

    /** A READ of the same bytes back out of the mapped slab: the direction decode takes. */
    @Benchmark
    public void engineRead() {
        initiator.submit(readRequest).await();
    }

    @Benchmark
    public MemorySegment memcpyBaseline() {
        MemorySegment.copy(source.memory(), 0, mapped.memory(), 0, requestBytes);
        return mapped.memory();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        initiator.close();
        target.close();
        mapped.close();
        targetSlab.close();
        source.close();
    }
}
