package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.nativemem.device.DeviceChoice;
import dev.ferry.nativemem.device.DeviceKind;
import dev.ferry.nativemem.device.DeviceMemories;
import dev.ferry.nativemem.device.DeviceMemory;
import dev.ferry.nativemem.device.DevicePool;
import dev.ferry.nativemem.device.DeviceStream;
import dev.ferry.store.gpu.GpuTier;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
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
 * The GPU tier's copies against their physical baseline in the same run: one block of
 * {@code blockBytes} per operation, host to device ({@code tierToDevice}: a put, awaited, then
 * an evict; {@code rawToDevice}: {@code cuMemcpyHtoDAsync} and {@code cuStreamSynchronize}) and
 * device to host ({@code tierToHost}: a read, awaited; {@code rawToHost}), both from a DRAM slab
 * registered with {@code cuMemHostRegister}. On host memory standing in for a GPU (no CUDA) the
 * raw side is {@code MemorySegment.copy}, and the figures only show that the path runs.
 *
 * <p>Also: {@code tierReadEach} (16 blocks, each read awaited before the next) against
 * {@code tierReadBatch} (16 reads queued, one wait), to choose between per-block and batched
 * copies of many small blocks; and {@code hitGpu} (a GPU hit for the local engine: a copy within
 * the device into the engine's buffer) against {@code hitDram} (a DRAM hit: the copy from the
 * registered slab into the same buffer). Scores are operations per second; one operation of the
 * 16-block methods moves 16 blocks.
 *
 * <p>Many small blocks ({@link Batch}: 16 or 64 blocks of 16, 64 or 256 KiB): reads one copy
 * per block ({@code manyReadEach}, queued together, one wait) against one batched copy
 * ({@code manyReadBatched}: gathered within the device, one copy to the host), and the same for
 * puts ({@code manyWriteEach}, {@code manyWriteBatched}, which also evict the blocks put, as
 * {@code tierToDevice} does). One operation moves all the blocks. {@link GpuCopyCheck} runs them and prints GB/s and ratios.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class GpuCopyBenchmark {
    /** Blocks of the 16-block methods. */
    public static final int BATCH = 16;

    /** The tier over the device memory that {@code memory} picks, and a registered slab of {@link #BATCH} blocks. */
    @State(Scope.Benchmark)
    public static class Tier {
        @Param({"65536", "262144", "1048576", "4194304"})
        public int blockBytes;

        /** host, cuda or auto. */
        @Param({"auto"})
        public String memory;

        DeviceMemory device;
        GpuTier<Integer> tier;
        Slab slab;
        DevicePool engine;
        DeviceStream dramStream;
        MemorySegment[] blocks = new MemorySegment[BATCH];

        @Setup(Level.Trial)
        public void setUp() {
            device = DeviceMemories.open(DeviceChoice.parse(memory), 0, 4L * BATCH * blockBytes);
            tier = new GpuTier<>(device, 2L * BATCH * blockBytes);
            engine = device.allocate((long) BATCH * blockBytes);
            dramStream = device.openStream();
            slab = Slab.allocate((long) BATCH * blockBytes);
            slab.populate();
            tier.registerDram(slab.memory());
            for (int i = 0; i < BATCH; i++) {
                blocks[i] = slab.memory().asSlice((long) i * blockBytes, blockBytes);
                tier.put(i, blocks[i]).await();
            }
            tier.await(BATCH - 1);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            try {
                tier.close();
                dramStream.close();
                engine.close();
            } finally {
                try {
                    device.close();
                } finally {
                    slab.close();
                }
            }
        }
    }

    /**
     * Many small blocks: {@code batchBlocks} blocks of {@code batchBlockBytes} held in a tier, and
     * a registered slab holding them one after another (the run of a batched copy).
     */
    @State(Scope.Benchmark)
    public static class Batch {
        @Param({"16384", "65536", "262144"})
        public int batchBlockBytes;

        @Param({"16", "64"})
        public int batchBlocks;

        @Param({"auto"})
        public String memory;

        DeviceMemory device;
        GpuTier<Integer> tier;
        Slab slab;
        MemorySegment run;
        MemorySegment[] blocks;
        java.util.List<Integer> held;
        java.util.List<Integer> fresh;
        long[] lengths;

        @Setup(Level.Trial)
        public void setUp() {
            long bytes = (long) batchBlocks * batchBlockBytes;
            device = DeviceMemories.open(DeviceChoice.parse(memory), 0, 4 * bytes);
            tier = new GpuTier<>(device, 3 * bytes);
            slab = Slab.allocate(bytes);
            slab.populate();
            tier.registerDram(slab.memory());
            run = slab.memory();
            blocks = new MemorySegment[batchBlocks];
            held = new java.util.ArrayList<>();
            fresh = new java.util.ArrayList<>();
            lengths = new long[batchBlocks];
            for (int i = 0; i < batchBlocks; i++) {
                blocks[i] = run.asSlice((long) i * batchBlockBytes, batchBlockBytes);
                lengths[i] = batchBlockBytes;
                held.add(i);
                fresh.add(batchBlocks + i);
                tier.put(i, blocks[i]).await();
                tier.await(i);
            }
        }

        void evictFresh() {
            for (Integer k : fresh) {
                tier.await(k);
                tier.evict(k);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            try {
                tier.close();
            } finally {
                try {
                    device.close();
                } finally {
                    slab.close();
                }
            }
        }
    }

    /** The baseline: raw JCuda on a registered slab, or {@code MemorySegment.copy} without CUDA. */
    @State(Scope.Benchmark)
    public static class Raw {
        @Param({"65536", "262144", "1048576", "4194304"})
        public int blockBytes;

        @Param({"auto"})
        public String memory;

        Slab slab;
        Slab hostDevice;
        boolean cuda;
        CUcontext context;
        CUdevice device;
        CUdeviceptr base;
        CUstream stream;
        Pointer host;
        Thread bound;

        @Setup(Level.Trial)
        public void setUp() {
            slab = Slab.allocate(blockBytes);
            slab.populate();
            try (DeviceMemory probe = DeviceMemories.open(DeviceChoice.parse(memory), 0, 1)) {
                cuda = probe.kind() == DeviceKind.CUDA;
            }
            if (!cuda) {
                hostDevice = Slab.allocate(blockBytes);
                return;
            }
            device = new CUdevice();
            context = new CUcontext();
            check(JCudaDriver.cuDeviceGet(device, 0));
            check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device));
            bind();
            base = new CUdeviceptr();
            check(JCudaDriver.cuMemAlloc(base, blockBytes));
            stream = new CUstream();
            check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING));
            host = new RawPointer(slab.memory().address());
            check(JCudaDriver.cuMemHostRegister(host, blockBytes, JCudaDriver.CU_MEMHOSTREGISTER_PORTABLE));
        }

        void bind() {
            if (bound != Thread.currentThread()) {
                check(JCudaDriver.cuCtxSetCurrent(context));
                bound = Thread.currentThread();
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (cuda) {
                bound = null;
                bind();
                JCudaDriver.cuMemHostUnregister(host);
                JCudaDriver.cuStreamDestroy(stream);
                JCudaDriver.cuMemFree(base);
                JCudaDriver.cuDevicePrimaryCtxRelease(device);
            } else {
                hostDevice.close();
            }
            slab.close();
        }

        private static void check(int rc) {
            if (rc != CUresult.CUDA_SUCCESS) {
                throw new IllegalStateException(CUresult.stringFor(rc));
            }
        }
    }

    /** A host address as a JCuda pointer. */
    static final class RawPointer extends Pointer {
        RawPointer(long address) {
            super(address);
        }
    }

    private int next;

    @Benchmark
    public void tierToDevice(Tier s) {
        // Block BATCH is never resident: put it, await it, evict it.
        s.tier.put(BATCH, s.blocks[next++ & (BATCH - 1)]).await();
        s.tier.await(BATCH);
        s.tier.evict(BATCH);
    }

    @Benchmark
    public void tierToHost(Tier s) {
        int i = next++ & (BATCH - 1);
        s.tier.read(i, s.blocks[i]).orElseThrow().await();
    }

    @Benchmark
    public void rawToDevice(Raw s) {
        if (s.cuda) {
            s.bind();
            JCudaDriver.cuMemcpyHtoDAsync(s.base, s.host, s.blockBytes, s.stream);
            JCudaDriver.cuStreamSynchronize(s.stream);
        } else {
            MemorySegment.copy(s.slab.memory(), 0, s.hostDevice.memory(), 0, s.blockBytes);
        }
    }

    @Benchmark
    public void rawToHost(Raw s) {
        if (s.cuda) {
            s.bind();
            JCudaDriver.cuMemcpyDtoHAsync(s.host, s.base, s.blockBytes, s.stream);
            JCudaDriver.cuStreamSynchronize(s.stream);
        } else {
            MemorySegment.copy(s.hostDevice.memory(), 0, s.slab.memory(), 0, s.blockBytes);
        }
    }

    @Benchmark
    public void tierReadEach(Tier s) {
        for (int i = 0; i < BATCH; i++) {
            s.tier.read(i, s.blocks[i]).orElseThrow().await();
        }
    }

    @Benchmark
    public void tierReadBatch(Tier s) {
        dev.ferry.nativemem.device.CopyCompletion last = null;
        for (int i = 0; i < BATCH; i++) {
            last = s.tier.read(i, s.blocks[i]).orElseThrow();
        }
        last.await();
    }

    @Benchmark
    public void hitGpu(Tier s) {
        int i = next++ & (BATCH - 1);
        s.tier.readToDevice(i, s.engine, (long) i * s.blockBytes).orElseThrow().await();
    }

    @Benchmark
    public void hitDram(Tier s) {
        int i = next++ & (BATCH - 1);
        s.engine.copyInAsync((long) i * s.blockBytes, s.blocks[i], s.dramStream).await();
    }

    /** Reads of many small blocks one by one: a copy each, queued together, one wait. */
    @Benchmark
    public void manyReadEach(Batch s) {
        dev.ferry.nativemem.device.CopyCompletion last = null;
        for (int i = 0; i < s.batchBlocks; i++) {
            last = s.tier.read(i, s.blocks[i]).orElseThrow();
        }
        last.await();
    }

    /** The same reads as one batched copy: gathered on the device, one copy to the host. */
    @Benchmark
    public void manyReadBatched(Batch s) {
        s.tier.readBatched(s.held, s.run).orElseThrow().await();
    }

    /** Puts of many small blocks one by one (then evicted). */
    @Benchmark
    public void manyWriteEach(Batch s) {
        dev.ferry.nativemem.device.CopyCompletion last = null;
        for (int i = 0; i < s.batchBlocks; i++) {
            last = s.tier.put(s.batchBlocks + i, s.blocks[i]);
        }
        last.await();
        s.evictFresh();
    }

    /** The same puts as one batched copy: one copy to the device, scattered there (then evicted). */
    @Benchmark
    public void manyWriteBatched(Batch s) {
        s.tier.putBatched(s.fresh, s.run, s.lengths).orElseThrow().await();
        s.evictFresh();
    }
}
