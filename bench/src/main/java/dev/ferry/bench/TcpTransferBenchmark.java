package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
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
 * WRITE throughput of the TCP transport over loopback against its physical baseline: a raw
 * NIO socket pair moving the same bytes in the same chunk size, the reader copying them
 * into memory as the engine's target does. Like for like: the engines use one connection
 * and one I/O thread each, as the raw pair has one socket and one thread per side. One operation moves {@link #TOTAL_BYTES}; JMH
 * reports operations per second, so GB/s = ops/s x 64 MiB.
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

    /** Bytes per request (engine) or per write call (raw), 64 KiB to 4 MiB. */
    @Param({"65536", "262144", "1048576", "4194304"})
    public int chunkBytes;

    private Slab source;
    private Slab sink;
    private TransferEngine target;
    private TransferEngine initiator;
    private List<TransferRequest> batch;

    private ServerSocketChannel server;
    private SocketChannel writer;
    private Thread reader;
    private final java.util.concurrent.Semaphore received = new java.util.concurrent.Semaphore(0);

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        source = Slab.allocate(TOTAL_BYTES);
        sink = Slab.allocate(TOTAL_BYTES);
        source.memory().fill((byte) 1);
        target = new TransferEngine(new TransferEngine.Context().ioThreads(1));
        SegmentDescriptor d = target.registerSegment("sink", sink.memory());
        initiator = new TransferEngine(new TransferEngine.Context().ioThreads(1).linksPerPeer(1).sharedMemory(false)
                .resolver(name -> d));
        batch = new ArrayList<>();
        for (long at = 0; at < TOTAL_BYTES; at += chunkBytes) {
            batch.add(TransferRequest.write(source.memory(), at, "sink", at, chunkBytes));
        }
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        writer = SocketChannel.open(server.getLocalAddress());
        SocketChannel accepted = server.accept();
        reader = Thread.ofPlatform().daemon().start(() -> drain(accepted));
    }

    /** The raw receiver: reads into the sink slab, one release per {@link #TOTAL_BYTES}. */
    private void drain(SocketChannel channel) {
        ByteBuffer into = sink.memory().asByteBuffer();
        long got = 0;
        try {
            while (true) {
                if (!into.hasRemaining()) {
                    into.clear();
                }
                got += channel.read(into);
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

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        writer.close();
        server.close();
        reader.interrupt();
        initiator.close();
        target.close();
        source.close();
        sink.close();
    }
}
