package dev.ferry.transfer.slice;

/**
 * Picks the slice size for a request: larger requests get larger slices, so that the
 * per-slice cost (a frame, a completion, a CRC) stays small, while a request still spreads
 * over every link. Bounded to [{@link #MIN_SLICE_BYTES}, {@link #MAX_SLICE_BYTES}].
 *
 * <p>The shape follows TENT's adaptive slicing (kvcache-ai/Mooncake,
 * docs/source/design/tent): about four slices per link per request, rounded to a power
 * of two, and never below 512 KiB unless the request itself is smaller. Stateless and
 * thread-safe.
 */
public final class SliceSizer {
    /**
     * Smallest slice of a larger request, bytes (512 KiB). Each slice costs a frame, an answer
     * and their system calls; over loopback TCP on the development machine, 1 MiB requests cut
     * into 256 KiB slices moved 32.5 ops/s of 64 MiB at 51.7 ms of CPU per op, and cut into
     * 512 KiB or 1 MiB slices 39-42 ops/s at 39-43 ms (JMH {@code TcpTransferBenchmark},
     * interleaved forks; docs/benchmarks-log.md).
     */
    public static final int MIN_SLICE_BYTES = 512 * 1024;
    /**
     * Largest slice, bytes (1 MiB): larger slices left the slow links of a sprayed transfer
     * finishing last (4 MiB: 86% of raw TCP over shaped links, 1 MiB: 98%; docs/benchmarks-log.md).
     */
    public static final int MAX_SLICE_BYTES = 1024 * 1024;

    private SliceSizer() {
    }

    /**
     * @param requestBytes length of the request, bytes, at least 1
     * @param links        links available to the request, at least 1
     * @return slice size in bytes
     */
    public static int sliceBytes(long requestBytes, int links) {
        long perSlice = Math.max(1, requestBytes / (4L * Math.max(1, links)));
        long pow2 = Long.highestOneBit(perSlice);
        if (pow2 < perSlice) {
            pow2 <<= 1;
        }
        return (int) Math.min(Math.clamp(pow2, MIN_SLICE_BYTES, MAX_SLICE_BYTES), Math.max(requestBytes, 1));
    }
}
