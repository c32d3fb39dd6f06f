package dev.ferry.cluster.report;

import java.util.List;

/**
 * The columns of the per-request report files, one per {@link RequestResult} field, in field
 * order: snake_case names, times in ns. Every column but {@code error} is a whole number;
 * {@code error} is text, null when the request succeeded. Stateless; thread-safe.
 */
final class ResultColumns {
    /** The numeric columns, in order; {@link #ERROR} follows them. */
    static final List<String> NUMERIC = List.of("index", "arrival_ns", "blocks", "hit_blocks", "bytes_written",
            "bytes_read", "queue_ns", "compute_ns", "write_ns", "read_ns", "ttft_ns", "tbt_ns", "verify_failures",
            "gpu_read_blocks", "ssd_read_blocks", "gpu_read_ns", "gpu_write_ns", "gpu_promote_ns", "elsewhere_gpu_blocks");
    static final String ERROR = "error";

    private ResultColumns() {
    }

    /** Whether the numeric column at {@code column} holds 32-bit values (counts), not 64-bit ones. */
    static boolean isInt(int column) {
        return switch (NUMERIC.get(column)) {
            case "index", "blocks", "hit_blocks", "verify_failures", "gpu_read_blocks", "ssd_read_blocks",
                 "elsewhere_gpu_blocks" -> true;
            default -> false;
        };
    }

    /** The numeric fields of {@code r}, in {@link #NUMERIC} order. */
    static long[] values(RequestResult r) {
        return new long[] {r.index(), r.arrivalNanos(), r.blocks(), r.hitBlocks(), r.bytesWritten(), r.bytesRead(),
            r.queueNanos(), r.computeNanos(), r.writeNanos(), r.readNanos(), r.ttftNanos(), r.tbtNanos(),
            r.verifyFailures(), r.gpuReadBlocks(), r.ssdReadBlocks(), r.gpuReadNanos(), r.gpuWriteNanos(),
            r.promoteNanos(), r.elsewhereGpuBlocks()};
    }
}
