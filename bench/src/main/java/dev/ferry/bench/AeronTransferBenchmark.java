package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.transport.aeron.MediaDrivers;
import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * WRITE throughput of the Aeron transport against its physical baseline: a raw Aeron
 * publication and subscription with the same settings (embedded media driver, SHARED
 * threading, 64 KiB MTU, 8 MiB socket buffers and window), the subscriber copying each
 * message into memory as the engine's target does. One operation moves 64 MiB in messages
 * (engine: requests) of {@code chunkBytes}. Over UDP on loopback ({@code channel=udp}: an
 * embedded driver per engine, as two nodes have) and over IPC ({@code channel=ipc}: both
 * engines on one shared driver, {@code TransferEngine.Context#aeronDirectory}).
 *
 * <p>{@link #rawAeronCrcBaseline} is the same raw pair taking the checksums that the engine
 * must take, the way the engine takes them: the publisher a CRC32C of each message from
 * DRAM just before offering it (an Aeron message's head carries its CRC32C, so it is known
 * before the first fragment leaves), the subscriber one of each fragment's bytes just after
 * copying them into place. It tells the engine's own overhead apart from the price of
 * checksumming on this machine.
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
    /** Payload bytes of one fragment at the 65504-byte MTU (less Aeron's 32-byte data header). */
    static final int FRAGMENT_BYTES = 65504 - 32;

    /** Bytes per request (engine) or per message (raw). */
    @State(Scope.Benchmark)
    public static class Chunk {
        @Param({"262144", "1048576"})
        public int chunkBytes;
    }

    /**
     * Two engines in this process: each with its own embedded media driver, reaching each
     * other over UDP ({@code udp}), or both on one shared driver, over IPC ({@code ipc}).
     */
    @State(Scope.Benchmark)
    public static class Engines {
        /** {@code udp} or {@code ipc}. */
        @Param({"udp", "ipc"})
        public String channel;

        private Slab source;
        private Slab sink;
        private MediaDriver shared;
        private TransferEngine target;
        private TransferEngine initiator;
        private List<TransferRequest> batch;

        @Setup(Level.Trial)
        public void setUp(Chunk chunk) {
            source = Slab.allocate(TOTAL_BYTES);
            sink = Slab.allocate(TOTAL_BYTES);
            source.memory().fill((byte) 1);
            String dir = null;
            if (channel.equals("ipc")) {
                shared = MediaDrivers.launch(CommonContext.getAeronDirectoryName() + "-ferry-bench-shared-"
                        + ProcessHandle.current().pid());
                dir = shared.aeronDirectoryName();
            }
            target = new TransferEngine(new TransferEngine.Context().aeron(true).aeronDirectory(dir).ioThreads(1));
            SegmentDescriptor d = target.registerSegment("sink", sink.memory());
            initiator = new TransferEngine(new TransferEngine.Context().aeron(true).aeronDirectory(dir).ioThreads(1)
                    .resolver(name -> d));
            String expected = channel.equals("ipc") ? "aeron:ipc:" : "aeron:127.0.0.1:";
            if (!initiator.aeronLinks(d).getFirst().name().startsWith(expected)) {
                throw new IllegalStateException("the engines do not talk over " + channel);
            }
            batch = new ArrayList<>();
            for (long at = 0; at < TOTAL_BYTES; at += chunk.chunkBytes) {
                // A size that does not divide 64 MiB (a model's block, -p chunkBytes=6291456): a short last one.
                batch.add(TransferRequest.write(source.memory(), at, "sink", at, Math.min(chunk.chunkBytes,
                        TOTAL_BYTES - at)));
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            initiator.close();
            target.close();
            if (shared != null) {
                shared.close();
            }
            source.close();
            sink.close();
        }
    }

    /**
     * A raw publication and subscription, the subscriber on its own thread: over UDP on one
     * embedded media driver ({@code udp}), over UDP with the publication on one driver and
     * the subscription on another ({@code udp-2-drivers}), as two nodes would have and as the
     * engine pair runs, or over IPC on one driver ({@code ipc}).
     * Publisher and subscriber back off when idle or back-pressured (Agrona's
     * {@link BackoffIdleStrategy}), as the engine does: on two cores, spinning threads
     * starve the drivers (busy-spinning halved this baseline).
     */
    @State(Scope.Benchmark)
    public static class RawAeron {
        /** {@code udp}, {@code udp-2-drivers} or {@code ipc}. */
        @Param({"udp", "udp-2-drivers", "ipc"})
        public String path;

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
        private final CRC32C publisherCrc = new CRC32C();
        private UnsafeBuffer all;
        private ByteBuffer sourceBytes;
        /** Whether the pair checksums (the trial of {@link #rawAeronCrcBaseline}). */
        private boolean checksum;

        private Aeron launch() {
            MediaDriver driver = MediaDrivers.launch(CommonContext.getAeronDirectoryName() + "-ferry-bench-"
                    + ProcessHandle.current().pid() + "-" + driverList.size());
            driverList.add(driver);
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            clients.add(aeron);
            return aeron;
        }

        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) throws Exception {
            checksum = params.getBenchmark().endsWith(".rawAeronCrcBaseline");
            source = Slab.allocate(TOTAL_BYTES);
            sink = Slab.allocate(TOTAL_BYTES);
            source.memory().fill((byte) 1);
            all = new UnsafeBuffer(source.memory().asByteBuffer());
            sourceBytes = source.memory().asByteBuffer();
            Aeron publisherSide = launch();
            Aeron subscriberSide = path.equals("udp-2-drivers") ? launch() : publisherSide;
            int port;
            try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
                port = probe.getLocalPort();
            }
            String channel = path.equals("ipc") ? "aeron:ipc?mtu=65504|term-length=16m"
                    : "aeron:udp?endpoint=127.0.0.1:" + port + "|mtu=65504";
            subscription = subscriberSide.addSubscription(channel, 7);
            publication = publisherSide.addPublication(channel, 7);
            while (!publication.isConnected()) {
                Thread.onSpinWait();
            }
            UnsafeBuffer into = new UnsafeBuffer(sink.memory().asByteBuffer());
            ByteBuffer sinkBytes = sink.memory().asByteBuffer();
            CRC32C subscriberCrc = new CRC32C();
            subscriber = Thread.ofPlatform().daemon().start(() -> {
                long[] got = {0};
                FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
                    int at = (int) (got[0] % (TOTAL_BYTES - length + 1));
                    if (checksum) {
                        // fragment by fragment, as the engine's receiver copies and checksums them
                        for (int piece = 0; piece < length; piece += FRAGMENT_BYTES) {
                            int n = Math.min(FRAGMENT_BYTES, length - piece);
                            into.putBytes(at + piece, buffer, offset + piece, n);
                            subscriberCrc.update(sinkBytes.limit(at + piece + n).position(at + piece));
                        }
                    } else {
                        into.putBytes(at, buffer, offset, length);
                    }
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
    public long rawAeronBaseline(Chunk chunk, RawAeron raw) throws InterruptedException {
        return publishAll(chunk, raw);
    }

    /** The raw pair with the engine's checksums: CRC32C of each message before it is offered, and of each fragment once in place. */
    @Benchmark
    public long rawAeronCrcBaseline(Chunk chunk, RawAeron raw) throws InterruptedException {
        return publishAll(chunk, raw);
    }

    /** Offers the 64 MiB as messages of {@code chunkBytes}, each checksummed first in the trial of {@link #rawAeronCrcBaseline}, and waits until all are in. */
    private static long publishAll(Chunk chunk, RawAeron raw) throws InterruptedException {
        IdleStrategy idle = raw.idle;
        for (long at = 0; at < TOTAL_BYTES; at += chunk.chunkBytes) {
            if (raw.checksum) {
                raw.publisherCrc.reset();
                raw.publisherCrc.update(raw.sourceBytes.limit((int) at + chunk.chunkBytes).position((int) at));
            }
            idle.reset();
            while (raw.publication.offer(raw.all, (int) at, chunk.chunkBytes) < 0) {
                idle.idle();
            }
        }
        raw.received.acquire();
        return raw.publisherCrc.getValue();
    }
}
