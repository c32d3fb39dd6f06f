package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.client.DirectStoreClient;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.rpc.RpcServer;
import dev.ferry.transfer.TransferEngine;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One {@link ConnectionHandler} on an {@link EmbeddedChannel}, behind the sidecar's own frame
 * decoder, with a real {@link SidecarServer} (on a Unix socket in a temporary directory, unused
 * here) for its settings, sessions and metrics. Requests go to an executor the test runs by
 * hand, so that what is in flight and what waits is decided by the test.
 */
class ConnectionHandlerTest {
    private static final long FRAME_TIMEOUT_MS = 5_000;

    @TempDir
    Path dir;

    private final ExecutorService masterThreads = Executors.newCachedThreadPool();
    private final Queue<Runnable> requests = new ArrayDeque<>();
    private RpcServer master;
    private MasterClient masterClient;
    private TransferEngine engine;
    private SidecarServer server;
    private EmbeddedChannel channel;

    @AfterEach
    void stop() {
        try {
            if (channel != null) {
                channel.finishAndReleaseAll();
            }
            runRequests();
        } finally {
            if (server != null) {
                server.close();
            }
            if (engine != null) {
                engine.close();
            }
            if (masterClient != null) {
                masterClient.close();
            }
            if (master != null) {
                master.close();
            }
            masterThreads.shutdownNow();
        }
    }

    /** A connection to a sidecar that serves at most {@code maxInFlight} requests of a connection at once. */
    private EmbeddedChannel connect(int maxInFlight) throws Exception {
        master = new RpcServer("127.0.0.1", 0, (method, in, out) -> { }, masterThreads);
        masterClient = new MasterClient("127.0.0.1", master.port(), 10_000);
        engine = new TransferEngine(new TransferEngine.Context());
        DirectStoreClient store = new DirectStoreClient(masterClient, engine, 10_000);
        SidecarMetrics metrics = new SidecarMetrics(new SimpleMeterRegistry());
        Sidecar.Context ctx = new Sidecar.Context().socketPath(dir.resolve("s.sock")).maxInFlight(maxInFlight)
                .drainMillis(1_000).frameTimeoutMillis(FRAME_TIMEOUT_MS).conclude();
        server = new SidecarServer(ctx, new SidecarOps(store, () -> 1, metrics, ctx.maxFrameBytes()), metrics,
                requests::add, store::abort);
        SidecarFrames.Decoder decoder = SidecarFrames.decoder(ctx.maxFrameBytes());
        channel = new EmbeddedChannel(decoder, new ConnectionHandler(server, requests::add, decoder));
        return channel;
    }

    /** Runs the queued requests on this thread, then the answers they handed to the event loop. */
    private void runRequests() {
        for (Runnable r; (r = requests.poll()) != null; ) {
            r.run();
        }
        if (channel != null) {
            channel.runPendingTasks();
        }
    }

    private static ByteBuf frame(int opcode, long id, byte[] body) {
        ByteBuf b = Unpooled.buffer(HEADER_BYTES + body.length);
        b.writeIntLE(HEADER_AFTER_LENGTH + body.length).writeShortLE(opcode).writeShortLE(0).writeLongLE(id)
                .writeBytes(body);
        return b;
    }

    private static ByteBuf hello(long id) {
        ByteBuf body = Unpooled.buffer(6).writeShortLE(VERSION).writeShortLE(VERSION).writeShortLE(0);
        byte[] bytes = new byte[6];
        body.readBytes(bytes);
        return frame(HELLO, id, bytes);
    }

    private record Answer(int opcode, int status, long id, String message) { }

    /** The next answer written, or null when none is. */
    private Answer answer() {
        ByteBuf b = channel.readOutbound();
        if (b == null) {
            return null;
        }
        try {
            int length = b.readIntLE();
            assertThat(b.readableBytes()).as("length field").isEqualTo(length);
            int opcode = b.readUnsignedShortLE();
            int status = b.readUnsignedShortLE();
            long id = b.readLongLE();
            String message = null;
            if (status != OK) {
                int n = b.readUnsignedShortLE();
                message = b.readCharSequence(n, StandardCharsets.UTF_8).toString();
            }
            return new Answer(opcode, status, id, message);
        } finally {
            b.release();
        }
    }

    private void greet() {
        channel.writeInbound(hello(1));
        Answer a = answer();
        assertThat(a.status()).isEqualTo(OK);
        assertThat(a.id()).isEqualTo(1);
    }

    @Test
    void unknownOpcodeIsRefusedOnItsRequestIdAndTheConnectionStaysUsable() throws Exception {
        connect(64);
        greet();

        channel.writeInbound(frame(99, 7, new byte[0]));
        runRequests();
        Answer a = answer();
        assertThat(a.status()).isEqualTo(UNKNOWN_OPCODE);
        assertThat(a.id()).isEqualTo(7);
        assertThat(a.opcode()).isEqualTo(99);

        channel.writeInbound(frame(GET_INLINE, 8, new byte[0])); // a known opcode with a short body, after it
        runRequests();
        Answer next = answer();
        assertThat(next.id()).isEqualTo(8);
        assertThat(next.status()).isEqualTo(MALFORMED);
        assertThat(channel.isActive()).isTrue();
    }

    @Test
    void aRequestBeforeHelloGetsHelloRequiredAndHelloStillWorks() throws Exception {
        connect(64);

        channel.writeInbound(frame(LOOKUP_PREFIX, 5, new byte[0]));
        Answer a = answer();
        assertThat(a.status()).isEqualTo(HELLO_REQUIRED);
        assertThat(a.id()).isEqualTo(5);
        assertThat(requests).as("nothing ran").isEmpty();
        assertThat(channel.isActive()).isTrue();

        greet();
    }

    @Test
    void aSecondHelloIsRefused() throws Exception {
        connect(64);
        greet();

        channel.writeInbound(hello(2));
        Answer a = answer();
        assertThat(a.status()).isEqualTo(BAD_STATE);
        assertThat(a.id()).isEqualTo(2);
        assertThat(channel.isActive()).isTrue();
    }

    @Test
    void requestIdZeroIsRefused() throws Exception {
        connect(64);
        greet();

        channel.writeInbound(frame(LOOKUP_PREFIX, 0, new byte[0]));
        Answer a = answer();
        assertThat(a.status()).isEqualTo(MALFORMED);
        assertThat(a.id()).isZero();
        assertThat(a.message()).contains("request id 0");
        assertThat(requests).as("nothing ran").isEmpty();
    }

    @Test
    void aFrameShorterThanItsHeaderIsRefusedOnIdZero() throws Exception {
        connect(64);
        greet();

        ByteBuf shortFrame = Unpooled.buffer().writeIntLE(4).writeIntLE(0); // 4 bytes after the length, not 12
        channel.writeInbound(shortFrame);
        Answer a = answer();
        assertThat(a.status()).isEqualTo(MALFORMED);
        assertThat(a.id()).isZero();
        assertThat(a.message()).contains("shorter than the 12-byte header");
    }

    @Test
    void aFrameLongerThanTheLimitClosesTheConnectionWithTheReasonOnIdZero() throws Exception {
        connect(64);
        greet();

        ByteBuf tooLong = Unpooled.buffer().writeIntLE(server.maxFrameBytes()).writeShortLE(LOOKUP_PREFIX)
                .writeShortLE(0).writeLongLE(3);
        channel.writeInbound(tooLong);
        channel.runPendingTasks();
        Answer a = answer();
        assertThat(a.status()).isEqualTo(FRAME_TOO_LARGE);
        assertThat(a.id()).isZero();
        assertThat(channel.isOpen()).isFalse();
    }

    @Test
    void requestsBeyondMaxInFlightStopReadingUntilOneFinishes() throws Exception {
        connect(2);
        greet();

        channel.writeInbound(frame(99, 1, new byte[0]));
        channel.writeInbound(frame(99, 2, new byte[0]));
        assertThat(channel.config().isAutoRead()).as("two in flight: still reading").isTrue();
        channel.writeInbound(frame(99, 3, new byte[0]));
        assertThat(requests).as("the third waits").hasSize(2);
        assertThat(channel.config().isAutoRead()).as("reading stops").isFalse();

        requests.poll().run();
        channel.runPendingTasks();
        assertThat(requests).as("the third started").hasSize(2);
        assertThat(channel.config().isAutoRead()).as("reading again").isTrue();
        runRequests();
        assertThat(answer().id()).isEqualTo(1);
        assertThat(answer().id()).isEqualTo(2);
        assertThat(answer().id()).isEqualTo(3);
    }

    @Test
    void requestsHoldingMoreThanTheConnectionBudgetStopReadingUntilBackWithin() throws Exception {
        connect(64);
        greet();
        // Each GET_INLINE running holds room for its answer, up to a whole frame: the budget
        // of SidecarServer.CONNECTION_FRAMES frames lets that many minus one run with their
        // own frames on top, and the next one waits.
        int fit = SidecarServer.CONNECTION_FRAMES - 1;
        for (int i = 1; i <= fit; i++) {
            channel.writeInbound(frame(GET_INLINE, i, new byte[0]));
            assertThat(channel.config().isAutoRead()).as("request %d within the budget", i).isTrue();
        }
        channel.writeInbound(frame(GET_INLINE, fit + 1, new byte[0]));
        assertThat(requests).as("the last waits").hasSize(fit);
        assertThat(channel.config().isAutoRead()).as("over the budget: reading stops").isFalse();

        requests.poll().run();
        channel.runPendingTasks();
        assertThat(requests).as("the waiting one started").hasSize(fit);
        assertThat(channel.config().isAutoRead()).as("within the budget: reading again").isTrue();
        runRequests();
        for (int i = 0; i <= fit; i++) {
            assertThat(answer().status()).isEqualTo(MALFORMED);
        }
        assertThat(answer()).isNull();
    }

    /** Half of a LOOKUP_PREFIX frame: its length field announces 12 bytes, 4 of them follow. */
    private static ByteBuf halfFrame() {
        return Unpooled.buffer().writeIntLE(HEADER_AFTER_LENGTH).writeShortLE(LOOKUP_PREFIX).writeShortLE(0);
    }

    /** Moves the event loop's (frozen) clock on and runs the timers due. */
    private void advance(long millis) {
        channel.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        channel.runPendingTasks();
    }

    @Test
    void aFrameLeftHalfReceivedForTheFrameTimeoutClosesTheConnectionWithTheReasonOnIdZero() throws Exception {
        connect(64);
        channel.freezeTime();
        greet();

        channel.writeInbound(halfFrame());
        advance(FRAME_TIMEOUT_MS - 1);
        assertThat(answer()).as("within the timeout").isNull();
        assertThat(channel.isOpen()).isTrue();

        advance(1);
        Answer a = answer();
        assertThat(a.status()).isEqualTo(MALFORMED);
        assertThat(a.id()).isZero();
        assertThat(a.message()).contains("no byte followed");
        assertThat(channel.isOpen()).isFalse();
    }

    @Test
    void aFrameThatKeepsArrivingIsNotCutByTheFrameTimeout() throws Exception {
        connect(64);
        channel.freezeTime();
        greet();

        channel.writeInbound(halfFrame());
        advance(FRAME_TIMEOUT_MS / 2);
        channel.writeInbound(Unpooled.buffer().writeIntLE(9)); // the low half of the request id
        advance(FRAME_TIMEOUT_MS / 2 + 1); // the first timer fires: progress since, so it waits again
        assertThat(answer()).isNull();
        assertThat(channel.isOpen()).isTrue();

        channel.writeInbound(Unpooled.buffer().writeIntLE(0)); // the high half: the frame is whole
        runRequests();
        Answer a = answer();
        assertThat(a.id()).isEqualTo(9);
        assertThat(a.opcode()).isEqualTo(LOOKUP_PREFIX);
        assertThat(a.status()).as("served: its empty body lacks the key count").isEqualTo(MALFORMED);
        advance(FRAME_TIMEOUT_MS * 2);
        assertThat(answer()).isNull();
        assertThat(channel.isOpen()).isTrue();
    }
}
