package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.transport.tcp.IoBackend;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * WRITE (and READ) throughput of the TCP transport over loopback against its physical baseline: a raw
 * NIO socket pair moving the same bytes in the same chunk size, the reader copying them
 * into memory as the engine's target does. Like for like: the engines use one connection
 * and one I/O thread each, as the raw pair has one socket and one thread per side. One
 * operation moves {@link #TOTAL_BYTES}; JMH reports operations per second, so GB/s =
 * ops/s x 64 MiB.
 *
 * <p>{@link #rawNioCrcBaseline} is the same raw pair taking the checksums that the engine
 * must take, the way the engine takes them: the writer a CRC32C of each piece of at most
 * 512 KiB just after writing it, the reader one of each piece of at most 256 KiB just after
 * reading it (both in cache, as the engine's sender and receiver do). It tells the engine's
 * own overhead apart from the price of checksumming on this machine.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class TcpTransferBenchmark {
    /** Bytes moved by one operation (64 MiB). */
    public static final long TOTAL_BYTES = 64L << 20;
    /** Most bytes the checksumming raw reader takes per read, as the engine's receiver (256 KiB). */
    static final int READ_PIECE_BYTES = 256 * 1024;
    /** Most bytes the checksumming raw writer writes before checksumming them, as the engine's sender (512 KiB). */
    static final int WRITE_PIECE_BYTES = 512 * 1024;

    /** Bytes per request (engine) or per write call (raw), 64 KiB to 4 MiB. */
    @Param({"65536", "262144", "1048576", "4194304"})
    public int chunkBytes;

    /** Whether the engines' connection is mutual TLS 1.3 (certificates of a CA made in a temporary directory). */
    @Param({"false"})
    public boolean tls;
    private java.nio.file.Path tlsDir;

    /**
     * The engines' I/O backend ({@code uring}, {@code epoll}, {@code nio}; {@code default}: the
     * process's, {@link IoBackend#configured()}). A backend that cannot run here fails the trial
     * rather than measuring the one it would fall back to.
     */
    @Param({"default"})
    public String io;

    private Slab source;
    private Slab sink;
    private TransferEngine target;
    private TransferEngine initiator;
    private List<TransferRequest> batch;
    private List<TransferRequest> readBatch;

    private ServerSocketChannel server;
    private SocketChannel writer;
    private Thread reader;
    private final java.util.concurrent.Semaphore received = new java.util.concurrent.Semaphore(0);
    /** Whether the raw pair checksums (the trial of {@link #rawNioCrcBaseline}). */
    private boolean checksum;
    private final CRC32C writerCrc = new CRC32C();

    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) throws IOException {
        checksum = params.getBenchmark().endsWith(".rawNioCrcBaseline");
        source = Slab.allocate(TOTAL_BYTES);
        sink = Slab.allocate(TOTAL_BYTES);
        source.memory().fill((byte) 1);
        dev.ferry.transfer.tls.PortSecurity targetSecurity = dev.ferry.transfer.tls.PortSecurity.loopbackOnly();
        dev.ferry.transfer.tls.PortSecurity initiatorSecurity = targetSecurity;
        if (tls) {
            tlsDir = java.nio.file.Files.createTempDirectory("ferry-bench-tls");
            var ca = dev.ferry.transfer.tls.ClusterCa.create("ferry-bench-ca");
            targetSecurity = dev.ferry.transfer.tls.PortSecurity.tls(dev.ferry.transfer.tls.TlsConfig.fromDir(
                    ca.issue(tlsDir.resolve("target"), "target", List.of())));
            initiatorSecurity = dev.ferry.transfer.tls.PortSecurity.tls(dev.ferry.transfer.tls.TlsConfig.fromDir(
                    ca.issue(tlsDir.resolve("initiator"), "initiator", List.of())));
        }
        IoBackend backend = io.equals("default") ? IoBackend.configured() : IoBackend.parse(io);
        target = new TransferEngine(new TransferEngine.Context().ioThreads(1).ioBackend(backend).security(targetSecurity));
        if (target.tcpIo().fallback() != null) {
            target.close();
            throw new IllegalStateException("cannot measure " + backend.flag() + ": " + target.tcpIo().fallback());
        }
        SegmentDescriptor d = target.registerSegment("sink", sink.memory());
        initiator = new TransferEngine(new TransferEngine.Context().ioThreads(1).ioBackend(backend).linksPerPeer(1).sharedMemory(false)
                .security(initiatorSecurity).resolver(name -> d));
        batch = new ArrayList<>();
        readBatch = new ArrayList<>();
        for (long at = 0; at < TOTAL_BYTES; at += chunkBytes) {
            long bytes = Math.min(chunkBytes, TOTAL_BYTES - at); // a size that does not divide 64 MiB: a short last one
            batch.add(TransferRequest.write(source.memory(), at, "sink", at, bytes));
            readBatch.add(TransferRequest.read(source.memory(), at, "sink", at, bytes));
        }
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        writer = SocketChannel.open(server.getLocalAddress());
        SocketChannel accepted = server.accept();
        reader = Thread.ofPlatform().daemon().start(() -> drain(accepted));
    }

    /** The raw receiver: reads into the sink slab, one release per {@link #TOTAL_BYTES}. */
    private void drain(SocketChannel channel) {
        ByteBuffer into = sink.memory().asByteBuffer();
        CRC32C crc = new CRC32C();
        long got = 0;
        try {
            while (true) {
                if (!into.hasRemaining()) {
                    into.clear();
                }
                int from = into.position();
                if (checksum) {
                    into.limit(Math.min(into.capacity(), from + READ_PIECE_BYTES));
                }
                int n = channel.read(into);
                if (checksum && n > 0) {
                    crc.update(into.duplicate().position(from).limit(from + n));
                    into.limit(into.capacity());
                }
                got += n;
                if (got >= TOTAL_BYTES) {
                    got -= TOTAL_BYTES;
                    received.release();
                }
            }
        } catch (IOException closed) {
            // the trial is over
        }
    }

    @Benchmark
    public void engineWrite() {
        initiator.submit(batch).await();
    }

    /** The same bytes pulled the other way, as a decode node reads KV blocks: the target's I/O thread sends them. */
    @Benchmark
    public void engineRead() {
        initiator.submit(readBatch).await();
    }

    @Benchmark
    public void rawNioBaseline() throws Exception {
        ByteBuffer all = source.memory().asByteBuffer();
        for (long at = 0; at < TOTAL_BYTES; at += chunkBytes) {
            ByteBuffer chunk = all.slice((int) at, chunkBytes);
            while (chunk.hasRemaining()) {
                writer.write(chunk);
            }
        }
        received.acquire();
    }

    /** The raw pair with the engine's checksums: CRC32C of each piece just after it is written, and just after it is read. */
    @Benchmark
    public long rawNioCrcBaseline() throws Exception {
        ByteBuffer all = source.memory().asByteBuffer();
        for (long at = 0; at < TOTAL_BYTES; at += chunkBytes) {
            writerCrc.reset();
            for (int piece = 0; piece < chunkBytes; piece += WRITE_PIECE_BYTES) {
                ByteBuffer bytes = all.slice((int) at + piece, Math.min(WRITE_PIECE_BYTES, chunkBytes - piece));
                while (bytes.hasRemaining()) {
                    writer.write(bytes);
                }
                writerCrc.update(bytes.flip());
            }
        }
        received.acquire();
        return writerCrc.getValue();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        writer.close();
        server.close();
        reader.interrupt();
        initiator.close();
        target.close();
        source.close();
        sink.close();
        if (tlsDir != null) {
            try (var files = java.nio.file.Files.walk(tlsDir)) {
                for (java.nio.file.Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    java.nio.file.Files.deleteIfExists(f);
                }
            }
        }
    }
}
