package dev.ferry.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.SliceSizer;
import dev.ferry.transfer.transport.aeron.MediaDrivers;
import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.logbuffer.FragmentHandler;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
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
 * Latency of one WRITE (or READ) request, from submit until its completion is seen, over TCP and Aeron
 * UDP, against a raw round trip of the same bytes with the same settings: a raw NIO socket
 * pair, or a raw Aeron publication and subscription on two embedded media drivers (64 KiB
 * MTU, as the engine's), where the receiving side copies the bytes into memory and then
 * answers with one byte, as the engine's target answers each slice. JMH samples each
 * operation's time (p50, p99 and so on, in us). One request at a time: the engine cuts it into
 * slices ({@code SliceSizer}); the raw TCP writer writes it whole and gets one answer; the raw
 * Aeron publisher offers it as messages of at most {@link SliceSizer#MAX_SLICE_BYTES} (1 MiB,
 * the engine's largest slice: an Aeron message is at most an eighth of a 16 MiB term) and gets
 * an answer to each.
 *
 * <p>Shared memory needs no answer (the copy is the transfer): its latency is
 * {@code ShmTransferBenchmark} in sample mode ({@code -bm sample -tu us}).
 *
 * <p>Each benchmark starts only its own side ({@link Engines}, {@link RawTcp} or
 * {@link RawAeron}), as in {@link AeronTransferBenchmark}.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TransferLatencyBenchmark {
    /** Bytes of the request (engine) or of the message (raw). */
    @State(Scope.Benchmark)
    public static class Chunk {
        @Param({"65536", "262144", "1048576", "4194304"})
        public int chunkBytes;
    }

    /** Two engines in this process, talking over TCP (one connection, one I/O thread each) or Aeron UDP (a driver each). */
    @State(Scope.Benchmark)
    public static class Engines {
        /** {@code tcp} or {@code aeron-udp}. */
        @Param({"tcp", "aeron-udp"})
        public String transport;

        private Slab source;
        private Slab sink;
        private TransferEngine target;
        private TransferEngine initiator;
        private List<TransferRequest> request;
        private List<TransferRequest> readRequest;

        @Setup(Level.Trial)
        public void setUp(Chunk chunk) {
            boolean aeron = switch (transport) {
                case "tcp" -> false;
                case "aeron-udp" -> true;
                default -> throw new IllegalArgumentException("transport is tcp or aeron-udp, not " + transport);
            };
            source = Slab.allocate(chunk.chunkBytes);
            sink = Slab.allocate(chunk.chunkBytes);
            source.memory().fill((byte) 1);
            target = new TransferEngine(new TransferEngine.Context().aeron(aeron).ioThreads(1));
            SegmentDescriptor d = target.registerSegment("sink", sink.memory());
            initiator = new TransferEngine(new TransferEngine.Context().aeron(aeron).ioThreads(1).linksPerPeer(1)
                    .sharedMemory(false).resolver(name -> d));
            if (aeron && !initiator.aeronLinks(d).getFirst().name().startsWith("aeron:127.0.0.1:")) {
                throw new IllegalStateException("the engines do not talk over Aeron UDP");
            }
            request = List.of(TransferRequest.write(source.memory(), 0, "sink", 0, chunk.chunkBytes));
            readRequest = List.of(TransferRequest.read(source.memory(), 0, "sink", 0, chunk.chunkBytes));
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            initiator.close();
            target.close();
            source.close();
            sink.close();
        }
    }

    /** A raw NIO socket pair over loopback; the reader takes each message whole into memory, then answers one byte. */
    @State(Scope.Benchmark)
    public static class RawTcp {
        private Slab source;
        private Slab sink;
        private ServerSocketChannel server;
        private SocketChannel writer;
        private Thread reader;
        private final ByteBuffer answer = ByteBuffer.allocateDirect(1);
        private ByteBuffer bytes;

        @Setup(Level.Trial)
        public void setUp(Chunk chunk) throws IOException {
            source = Slab.allocate(chunk.chunkBytes);
            sink = Slab.allocate(chunk.chunkBytes);
            source.memory().fill((byte) 1);
            bytes = source.memory().asByteBuffer();
            server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
            writer = SocketChannel.open(server.getLocalAddress());
            SocketChannel accepted = server.accept();
            reader = Thread.ofPlatform().daemon().start(() -> answerEach(accepted));
        }

        private void answerEach(SocketChannel channel) {
            ByteBuffer into = sink.memory().asByteBuffer();
            ByteBuffer ack = ByteBuffer.allocateDirect(1);
            try {
                while (true) {
                    into.clear();
                    while (into.hasRemaining()) {
                        if (channel.read(into) < 0) {
                            return;
                        }
                    }
                    ack.clear();
                    channel.write(ack);
                }
            } catch (IOException closed) {
                // the trial is over
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException, InterruptedException {
            writer.close();
            server.close();
            reader.interrupt();
            reader.join(2_000); // it reads into the sink, which must not be freed under it
            source.close();
            sink.close();
        }
    }

    /**
     * A raw Aeron publication to a subscription on another embedded media driver over UDP, and
     * one back for the answers; the subscriber copies each whole message into memory, then
     * offers a one-byte answer. Both sides back off when idle (Agrona's
     * {@link BackoffIdleStrategy}), as the engine's poller does.
     */
    @State(Scope.Benchmark)
    public static class RawAeron {
        private Slab source;
        private Slab sink;
        private final List<MediaDriver> drivers = new ArrayList<>();
        private final List<Aeron> clients = new ArrayList<>();
        private Publication requests;
        private Subscription answers;
        private Thread subscriber;
        private volatile boolean running = true;
        private UnsafeBuffer all;
        private final IdleStrategy idle = new BackoffIdleStrategy();
        private final int[] answered = new int[1];
        private final FragmentHandler onAnswer = (buffer, offset, length, header) -> answered[0]++;

        private Aeron launch() {
            MediaDriver driver = MediaDrivers.launch(CommonContext.getAeronDirectoryName() + "-ferry-latency-"
                    + ProcessHandle.current().pid() + "-" + drivers.size());
            drivers.add(driver);
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            clients.add(aeron);
            return aeron;
        }

        private static String channel() throws IOException {
            try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
                return "aeron:udp?endpoint=127.0.0.1:" + probe.getLocalPort() + "|mtu=65504";
            }
        }

        @Setup(Level.Trial)
        public void setUp(Chunk chunk) throws IOException {
            source = Slab.allocate(chunk.chunkBytes);
            sink = Slab.allocate(chunk.chunkBytes);
            source.memory().fill((byte) 1);
            all = new UnsafeBuffer(source.memory().asByteBuffer());
            Aeron near = launch();
            Aeron far = launch();
            String forward = channel();
            String back = channel();
            Subscription incoming = far.addSubscription(forward, 7);
            requests = near.addPublication(forward, 7);
            answers = near.addSubscription(back, 8);
            Publication answering = far.addPublication(back, 8);
            while (!requests.isConnected() || !answering.isConnected()) {
                Thread.onSpinWait();
            }
            UnsafeBuffer into = new UnsafeBuffer(sink.memory().asByteBuffer());
            UnsafeBuffer ack = new UnsafeBuffer(new byte[1]);
            subscriber = Thread.ofPlatform().daemon().start(() -> {
                IdleStrategy backoff = new BackoffIdleStrategy();
                int[] at = {0};
                FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
                    into.putBytes(at[0], buffer, offset, length);
                    at[0] = at[0] + length >= chunk.chunkBytes ? 0 : at[0] + length;
                    while (running && answering.offer(ack, 0, 1) < 0) {
                        Thread.onSpinWait();
                    }
                });
                while (running) {
                    backoff.idle(incoming.poll(assembler, 64));
                }
            });
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            running = false;
            subscriber.join(2_000);
            clients.forEach(Aeron::close);
            drivers.forEach(MediaDriver::close);
            source.close();
            sink.close();
        }
    }

    @Benchmark
    public void engineWrite(Engines engines) {
        engines.initiator.submit(engines.request).await();
    }

    /**
     * One READ, as a decode node pulls a KV block: the same bytes the other way, the target
     * answering with the payload. Its baselines are the same round trips (one side sends the
     * bytes, the other a byte back, two wake-ups), the order of the two messages reversed.
     */
    @Benchmark
    public void engineRead(Engines engines) {
        engines.initiator.submit(engines.readRequest).await();
    }

    @Benchmark
    public void rawNioRoundTrip(RawTcp raw) throws IOException {
        ByteBuffer bytes = raw.bytes.clear();
        while (bytes.hasRemaining()) {
            raw.writer.write(bytes);
        }
        raw.answer.clear();
        while (raw.answer.hasRemaining()) {
            if (raw.writer.read(raw.answer) < 0) {
                throw new IOException("the raw reader closed its end");
            }
        }
    }

    @Benchmark
    public void rawAeronRoundTrip(Chunk chunk, RawAeron raw) {
        IdleStrategy idle = raw.idle;
        int messages = 0;
        for (int at = 0; at < chunk.chunkBytes; at += SliceSizer.MAX_SLICE_BYTES) {
            idle.reset();
            while (raw.requests.offer(raw.all, at, Math.min(SliceSizer.MAX_SLICE_BYTES, chunk.chunkBytes - at)) < 0) {
                idle.idle();
            }
            messages++;
        }
        int until = raw.answered[0] + messages;
        idle.reset();
        while (raw.answered[0] < until) {
            idle.idle(raw.answers.poll(raw.onAnswer, 8));
        }
    }
}
