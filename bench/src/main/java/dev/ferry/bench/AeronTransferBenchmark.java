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
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
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
 *
 * <p>Each benchmark starts only its own side ({@link Engines} or {@link RawAeron}): the raw
 * subscriber spins on its own core while it runs, and on a 2-core machine an idle spinner
 * beside the engine would halve the engine's CPU.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class AeronTransferBenchmark {
    public static final long TOTAL_BYTES = 64L << 20;

    /** Bytes per request (engine) or per message (raw). */
    @State(Scope.Benchmark)
    public static class Chunk {
        @Param({"262144", "1048576"})
        public int chunkBytes;
    }

    /** Two engines in this process, each with its own embedded media driver, as two nodes would have. */
    @State(Scope.Benchmark)
    public static class Engines {
        private Slab source;
        private Slab sink;
        private TransferEngine target;
        private TransferEngine initiator;
        private List<TransferRequest> batch;

        @Setup(Level.Trial)
        public void setUp(Chunk chunk) {
            source = Slab.allocate(TOTAL_BYTES);
            sink = Slab.allocate(TOTAL_BYTES);
            source.memory().fill((byte) 1);
            target = new TransferEngine(new TransferEngine.Context().aeron(true).ioThreads(1));
            SegmentDescriptor d = target.registerSegment("sink", sink.memory());
            initiator = new TransferEngine(new TransferEngine.Context().aeron(true).ioThreads(1).resolver(name -> d));
            batch = new ArrayList<>();
            for (long at = 0; at < TOTAL_BYTES; at += chunk.chunkBytes) {
                batch.add(TransferRequest.write(source.memory(), at, "sink", at, chunk.chunkBytes));
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            initiator.close();
            target.close();
            source.close();
            sink.close();
        }
    }

    /**
     * A raw publication and subscription, the subscriber on its own thread: on one embedded
     * media driver ({@code drivers=1}), or the publication on one and the subscription on
     * another ({@code drivers=2}), as two nodes would have, and as the engine pair runs.
     * Publisher and subscriber back off when idle or back-pressured (Agrona's
     * {@link BackoffIdleStrategy}), as the engine does: on two cores, spinning threads
     * starve the drivers (busy-spinning halved this baseline).
     */
    @State(Scope.Benchmark)
    public static class RawAeron {
        /** Media drivers: 1 (both ends on one) or 2 (one per end). */
        @Param({"1", "2"})
        public int drivers;

        private Slab source;
        private Slab sink;
        private final List<MediaDriver> driverList = new ArrayList<>();
        private final List<Aeron> clients = new ArrayList<>();
        private Publication publication;
        private Subscription subscription;
        private Thread subscriber;
        private volatile boolean running = true;
        private final Semaphore received = new Semaphore(0);
        private final IdleStrategy idle = new BackoffIdleStrategy();
        private UnsafeBuffer all;

        private Aeron launch() {
            MediaDriver driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
                    .aeronDirectoryName(CommonContext.getAeronDirectoryName() + "-ferry-bench-"
                            + ProcessHandle.current().pid() + "-" + driverList.size())
                    .threadingMode(ThreadingMode.SHARED).dirDeleteOnStart(true).dirDeleteOnShutdown(true)
                    .socketRcvbufLength(8 << 20).socketSndbufLength(8 << 20).initialWindowLength(8 << 20));
            driverList.add(driver);
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            clients.add(aeron);
            return aeron;
        }

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            source = Slab.allocate(TOTAL_BYTES);
            sink = Slab.allocate(TOTAL_BYTES);
            source.memory().fill((byte) 1);
            all = new UnsafeBuffer(source.memory().asByteBuffer());
            Aeron publisherSide = launch();
            Aeron subscriberSide = drivers == 2 ? launch() : publisherSide;
            int port;
            try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
                port = probe.getLocalPort();
            }
            String channel = "aeron:udp?endpoint=127.0.0.1:" + port + "|mtu=65504";
            subscription = subscriberSide.addSubscription(channel, 7);
            publication = publisherSide.addPublication(channel, 7);
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
                IdleStrategy idle = new BackoffIdleStrategy();
                while (running) {
                    idle.idle(subscription.poll(assembler, 64));
                }
            });
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            running = false;
            subscriber.join(2_000);
            clients.forEach(Aeron::close);
            driverList.forEach(MediaDriver::close);
            source.close();
            sink.close();
        }
    }

    @Benchmark
    public void engineWrite(Engines engines) {
        engines.initiator.submit(engines.batch).await();
    }

    @Benchmark
    public void rawAeronBaseline(Chunk chunk, RawAeron raw) throws InterruptedException {
        UnsafeBuffer all = raw.all;
        IdleStrategy idle = raw.idle;
        for (long at = 0; at < TOTAL_BYTES; at += chunk.chunkBytes) {
            idle.reset();
            while (raw.publication.offer(all, (int) at, chunk.chunkBytes) < 0) {
                idle.idle();
            }
        }
        raw.received.acquire();
    }
}
