package dev.ferry.cluster.cli;

import dev.ferry.store.cli.ByteSizes;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.zip.CRC32C;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ferry bench copy-crc}: the physical baseline of a put or get through the sidecar, one
 * thread: a copy between two off-heap buffers ({@link MemorySegment#copy}) and a CRC32C of the
 * copied bytes ({@link CRC32C}), as the store does for every block. With {@code --region}
 * each operation takes the next window of two regions of that size, so that a region larger
 * than the last-level cache makes every copy read and write DRAM, as a store's puts and gets
 * of a large pool do; without it the same two buffers are used again and stay in cache.
 */
@Command(name = "copy-crc", mixinStandardHelpOptions = true,
        description = "Baseline, one thread: off-heap copy plus CRC32C of the same bytes, GB/s (10^9 bytes/s).")
final class BenchCopyCrcCommand implements Callable<Integer> {
    @Option(names = "--sizes", split = ",", defaultValue = "64KiB,1MiB,4MiB",
            description = "Value sizes (default ${DEFAULT-VALUE}).")
    List<String> sizes;

    @Option(names = "--batch", defaultValue = "1", description = "Values per operation: each copies and checksums sizes x batch bytes (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--iterations", defaultValue = "20", description = "Timed operations per size, after 3 untimed (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--region", defaultValue = "0", converter = dev.ferry.store.cli.SizeOrZeroConverter.class, description = "Bytes of the source and of the destination region "
            + "whose windows the operations take in turn (e.g. 256MiB, larger than the last-level cache: copies from "
            + "DRAM); 0 uses one buffer of sizes x batch bytes again and again (default ${DEFAULT-VALUE}).")
    long region;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        List<Long> bytes = new ArrayList<>();
        for (String s : sizes) {
            long size = ByteSizes.parse(s.strip());
            if (size < 1 || batch < 1 || iterations < 1 || size * batch > Integer.MAX_VALUE) {
                spec.commandLine().getErr().println("ferry bench copy-crc: sizes x batch must be 1 byte to 2 GiB, "
                        + "iterations at least 1");
                return ExitCodes.USAGE;
            }
            bytes.add(size);
        }
        long regionBytes = region;
        long check = warmUp();
        for (long size : bytes) {
            long n = size * batch;
            long windows = Math.max(1, regionBytes / n);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment src = arena.allocate(windows * n, 4096);
                MemorySegment dst = arena.allocate(windows * n, 4096);
                SplittableRandom random = new SplittableRandom(size);
                for (long at = 0; at + 8 <= src.byteSize(); at += 8) {
                    src.set(ValueLayout.JAVA_LONG_UNALIGNED, at, random.nextLong());
                }
                dst.fill((byte) 0); // every page mapped before any timing
                long copyNanos = 0;
                long crcNanos = 0;
                for (int it = -3; it < iterations; it++) {
                    long at = Math.floorMod(it, windows) * n;
                    long t0 = System.nanoTime();
                    MemorySegment.copy(src, at, dst, at, n);
                    long t1 = System.nanoTime();
                    CRC32C crc = new CRC32C();
                    crc.update(dst.asSlice(at, n).asByteBuffer());
                    check += crc.getValue();
                    long t2 = System.nanoTime();
                    if (it >= 0) {
                        copyNanos += t1 - t0;
                        crcNanos += t2 - t1;
                    }
                }
                double total = (double) n * iterations;
                out.printf("copy-crc size=%d bytes=%d region=%d copy_gbps=%.2f crc32c_gbps=%.2f copy_crc32c_gbps=%.2f%n",
                        size, n, windows * n, total / copyNanos, total / crcNanos, total / (copyNanos + crcNanos));
            }
        }
        out.printf("copy-crc done check=%x%n", check);
        out.flush();
        return 0;
    }

    /** Runs copy and CRC32C for half a second first, so that both are compiled (intrinsics) before any timing. */
    private static long warmUp() {
        long check = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(WARM_UP_BYTES, 4096);
            MemorySegment dst = arena.allocate(WARM_UP_BYTES, 4096);
            long end = System.nanoTime() + WARM_UP_NANOS;
            while (System.nanoTime() < end) {
                MemorySegment.copy(src, 0, dst, 0, WARM_UP_BYTES);
                CRC32C crc = new CRC32C();
                crc.update(dst.asByteBuffer());
                check += crc.getValue();
            }
        }
        return check;
    }

    private static final long WARM_UP_BYTES = 64 * 1024;
    private static final long WARM_UP_NANOS = 500_000_000L;
}
