package dev.ferry.bench;

import java.util.Arrays;
import java.util.Map;

/**
 * A transport benchmark and its physical baseline, as {@link PairedRuns} measures them: the
 * JMH methods, the parameters that put each on the path compared, the parameter that sets
 * the size, the bytes one operation moves, and the target ratio (engine / baseline).
 *
 * @param name          how the pair is named on the command line
 * @param engine        JMH include pattern of the engine's benchmark
 * @param baseline      JMH include pattern of the baseline's benchmark
 * @param engineParams  JMH parameters of the engine run, besides the size
 * @param baselineParams JMH parameters of the baseline run, besides the size
 * @param sizeParam     the JMH parameter that sets the request (and raw chunk) size, bytes
 * @param bytesPerOp    bytes one operation moves; 0 when an operation moves one request of the size
 * @param target        the throughput ratio engine / baseline that the transport must reach
 */
public record BaselinePair(String name, String engine, String baseline, Map<String, String> engineParams,
                           Map<String, String> baselineParams, String sizeParam, long bytesPerOp, double target) {
    /** TCP on Netty vs a raw blocking NIO socket pair, loopback: one connection and one I/O thread a side. */
    public static final BaselinePair TCP = new BaselinePair("tcp", exact(TcpTransferBenchmark.class, "engineWrite"),
            exact(TcpTransferBenchmark.class, "rawNioBaseline"), Map.of(), Map.of(), "chunkBytes",
            TcpTransferBenchmark.TOTAL_BYTES, 0.9);
    /**
     * TCP on Netty vs the raw NIO pair taking the engine's checksums (CRC32C of each payload
     * on both sides): the engine's own overhead, without the price of checksumming.
     */
    public static final BaselinePair TCP_CRC = new BaselinePair("tcp-crc",
            exact(TcpTransferBenchmark.class, "engineWrite"), exact(TcpTransferBenchmark.class, "rawNioCrcBaseline"),
            Map.of(), Map.of(), "chunkBytes", TcpTransferBenchmark.TOTAL_BYTES, 0.9);
    /** TCP READ (the target's I/O thread sends, the initiator's receives) vs the same raw NIO pair. */
    public static final BaselinePair TCP_READ = new BaselinePair("tcp-read",
            exact(TcpTransferBenchmark.class, "engineRead"), exact(TcpTransferBenchmark.class, "rawNioBaseline"),
            Map.of(), Map.of(), "chunkBytes", TcpTransferBenchmark.TOTAL_BYTES, 0.9);
    /** TCP READ vs the raw NIO pair taking the engine's checksums. */
    public static final BaselinePair TCP_READ_CRC = new BaselinePair("tcp-read-crc",
            exact(TcpTransferBenchmark.class, "engineRead"), exact(TcpTransferBenchmark.class, "rawNioCrcBaseline"),
            Map.of(), Map.of(), "chunkBytes", TcpTransferBenchmark.TOTAL_BYTES, 0.9);
    /**
     * The raw NIO pair taking the engine's checksums vs the same pair without them: what the
     * checksums alone cost on this machine, so the most that any transfer checksumming every
     * payload, the engine's included, can reach of {@link #TCP}'s baseline.
     */
    public static final BaselinePair TCP_CRC_COST = new BaselinePair("tcp-crc-cost",
            exact(TcpTransferBenchmark.class, "rawNioCrcBaseline"), exact(TcpTransferBenchmark.class, "rawNioBaseline"),
            Map.of(), Map.of(), "chunkBytes", TcpTransferBenchmark.TOTAL_BYTES, 0.9);
    /**
     * The engine's TCP WRITE over mutual TLS 1.3 vs the same without TLS: what authenticated
     * ports cost (AES-128-GCM on the JDK's provider, and the payload no longer read from the
     * socket straight into place).
     */
    public static final BaselinePair TCP_TLS_COST = new BaselinePair("tcp-tls-cost",
            exact(TcpTransferBenchmark.class, "engineWrite"), exact(TcpTransferBenchmark.class, "engineWrite"),
            Map.of("tls", "true"), Map.of("tls", "false"), "chunkBytes", TcpTransferBenchmark.TOTAL_BYTES, 0.3);
    /** Aeron over UDP loopback, a media driver per engine, vs a raw publication and subscription on two drivers. */
    public static final BaselinePair AERON_UDP = new BaselinePair("aeron-udp",
            exact(AeronTransferBenchmark.class, "engineWrite"), exact(AeronTransferBenchmark.class, "rawAeronBaseline"),
            Map.of("channel", "udp"), Map.of("path", "udp-2-drivers"), "chunkBytes",
            AeronTransferBenchmark.TOTAL_BYTES, 0.9);
    /** Aeron over UDP vs the raw pair on two drivers taking the engine's checksums. */
    public static final BaselinePair AERON_UDP_CRC = new BaselinePair("aeron-udp-crc",
            exact(AeronTransferBenchmark.class, "engineWrite"), exact(AeronTransferBenchmark.class, "rawAeronCrcBaseline"),
            Map.of("channel", "udp"), Map.of("path", "udp-2-drivers"), "chunkBytes",
            AeronTransferBenchmark.TOTAL_BYTES, 0.9);
    /** The raw Aeron UDP pair taking the engine's checksums vs the same pair without them: what the checksums alone cost. */
    public static final BaselinePair AERON_UDP_CRC_COST = new BaselinePair("aeron-udp-crc-cost",
            exact(AeronTransferBenchmark.class, "rawAeronCrcBaseline"), exact(AeronTransferBenchmark.class, "rawAeronBaseline"),
            Map.of("path", "udp-2-drivers"), Map.of("path", "udp-2-drivers"), "chunkBytes",
            AeronTransferBenchmark.TOTAL_BYTES, 0.9);
    /** Aeron IPC, both engines on one shared media driver, vs a raw IPC publication and subscription. */
    public static final BaselinePair AERON_IPC = new BaselinePair("aeron-ipc",
            exact(AeronTransferBenchmark.class, "engineWrite"), exact(AeronTransferBenchmark.class, "rawAeronBaseline"),
            Map.of("channel", "ipc"), Map.of("path", "ipc"), "chunkBytes", AeronTransferBenchmark.TOTAL_BYTES, 0.9);
    /** The shared-memory transport vs {@code MemorySegment.copy} into a mapping of the same file. */
    public static final BaselinePair SHM = new BaselinePair("shm", exact(ShmTransferBenchmark.class, "engineWrite"),
            exact(ShmTransferBenchmark.class, "memcpyBaseline"), Map.of(), Map.of(), "requestBytes", 0, 0.8);

    private static final BaselinePair[] ALL = {TCP, TCP_CRC, TCP_READ, TCP_READ_CRC, TCP_CRC_COST, TCP_TLS_COST, AERON_UDP,
        AERON_UDP_CRC, AERON_UDP_CRC_COST, AERON_IPC, SHM};

    private static String exact(Class<?> benchmark, String method) {
        return "^" + benchmark.getName().replace(".", "\\.") + "\\." + method + "$";
    }

    /**
     * The pair named {@code name}.
     *
     * @throws IllegalArgumentException if no pair has that name (the message lists them)
     */
    public static BaselinePair named(String name) {
        return Arrays.stream(ALL).filter(p -> p.name.equals(name)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("no benchmark pair '" + name + "'; pairs: " + String.join(", ", names())));
    }

    /** The names of every pair. */
    public static String[] names() {
        return Arrays.stream(ALL).map(BaselinePair::name).toArray(String[]::new);
    }

    /** Bytes one operation moves at {@code sizeBytes}. */
    public long bytesPerOp(long sizeBytes) {
        return bytesPerOp == 0 ? sizeBytes : bytesPerOp;
    }
}
