package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
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
 * WRITE throughput of the Aeron UDP transport on loopback against its physical baseline: a
 * raw Aeron publication and subscription with the same settings (embedded media driver,
 * SHARED threading, 64 KiB MTU, 8 MiB socket buffers and window), the subscriber copying
 * each message into memory as the engine's target does. One operation moves 64 MiB in
 * messages (engine: requests) of {@code chunkBytes}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class AeronTransferBenchmark {
    public static final long TOTAL_BYTES = 64L << 20;

    @Param({"262144", "1048576"})
    public int chunkBytes;

    private Slab source;
    private Slab sink;
    private TransferEngine target;
    private TransferEngine initiator;
    private List<TransferRequest> batch;

    private MediaDriver driver;
    private Aeron aeron;
    private Publication publication;
    private Subscription subscription;
    private Thread subscriber;
    private volatile boolean running = true;
    private final Semaphore received = new Semaphore(0);

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        source = Slab.allocate(TOTAL_BYTES);
        sink = Slab.allocate(TOTAL_BYTES);
        source.memory().fill((byte) 1);
        target = new TransferEngine(new TransferEngine.Context().aeron(true).ioThreads(1));
        SegmentDescriptor d = target.registerSegment("sink", sink.memory());
        initiator = new TransferEngine(new TransferEngine.Context().aeron(true).ioThreads(1).resolver(name -> d));
        batch = new ArrayList<>();
        for (long at = 0; at < TOTAL_BYTES; at += chunkBytes) {
            batch.add(TransferRequest.write(source.memory(), at, "sink", at, chunkBytes));
        }

        driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
                .aeronDirectoryName(CommonContext.getAeronDirectoryName() + "-ferry-bench-" + ProcessHandle.current().pid())
                .threadingMode(ThreadingMode.SHARED).dirDeleteOnStart(true).dirDeleteOnShutdown(true)
                .socketRcvbufLength(8 << 20).socketSndbufLength(8 << 20).initialWindowLength(8 << 20));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        int port;
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
            port = probe.getLocalPort();
        }
        String channel = "aeron:udp?endpoint=127.0.0.1:" + port + "|mtu=65504";
        subscription = aeron.addSubscription(channel, 7);
        publication = aeron.addPublication(channel, 7);
        while (!publication.isConnected()) {
            Thread.onSpinWait();
        }
        UnsafeBuffer into = new UnsafeBuffer(sink.memory().asByteBuffer());
        subscriber = Thread.ofPlatform().daemon().start(() -> {
            long[] got = {0};
            FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
                into.putBytes((int) (got[0] % (TOTAL_BYTES - length + 1)), buffer, offset, length);
                got[0] += length;
                if (got[0] >= TOTAL_BYTES) {
                    got[0] -= TOTAL_BYTES;
                    received.release();
                }
            });
            while (running) {
                if (subscription.poll(assembler, 64) == 0) {
                    Thread.onSpinWait();
                }
            }
        });
    }

    @Benchmark
    public void engineWrite() {
        initiator.submit(batch).await();
    }

    @Benchmark
    public void rawAeronBaseline() throws InterruptedException {
        UnsafeBuffer all = new UnsafeBuffer(source.memory().asByteBuffer());
        for (long at = 0; at < TOTAL_BYTES; at += chunkBytes) {
            while (publication.offer(all, (int) at, chunkBytes) < 0) {
                Thread.onSpinWait();
            }
        }
        received.acquire();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        running = false;
        subscriber.join(2_000);
        aeron.close();
        driver.close();
        initiator.close();
        target.close();
        source.close();
        sink.close();
    }
}
