package dev.ferry.bench;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.IndexUpdate;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.master.NodeFeatures;
import dev.ferry.store.master.Placement;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
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
 * One master call's round trip over loopback against a real {@link MasterService}, beside its
 * physical baseline in the same run: a blocking-socket ping-pong of the same frame sizes
 * between two threads of the process (the master's I/O thread is the one other thread a call
 * of the engine wakes besides its own client loop).
 *
 * <ul>
 *   <li>{@link #exists}: a trivial call (EXISTS of {@value #KEYS} keys: a 155-byte request
 *       frame, a 35-byte answer); {@link #existsBaseline} one ping-pong of those sizes.</li>
 *   <li>{@link #putStartCommit}: a sidecar's put of {@value #KEYS} blocks as the master sees it,
 *       PUT_START_NAMED then PUT_COMMIT naming the holding node (whose index updates come
 *       back with the answer); {@link #putStartCommitBaseline} two ping-pongs of the same
 *       sizes: 321 and 403 bytes, then 216 and 747 bytes.</li>
 * </ul>
 *
 * <p>{@code io} is the RPC client's and server's I/O backend ({@code ferry.rpc.io}); the
 * baseline ignores it. The master holds one node's segment of {@value #SEGMENT_BLOCKS} blocks,
 * filled once at setup, so every put evicts as many blocks as it adds and the master's state
 * stays the same size. Sample mode: a score is the time of one operation, µs; the ratio to
 * compare is baseline / engine.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 4, time = 2)
@Fork(1)
@State(Scope.Benchmark)
public class MasterRpcBenchmark {
    /** Blocks per put (the Python bench's batch). */
    public static final int KEYS = 8;
    /** Blocks the node's segment holds. */
    public static final int SEGMENT_BLOCKS = 4096;
    private static final long BLOCK_BYTES = 1 << 20;
    private static final String NODE = "store-0";
    /** Frame sizes of the engine's calls, length field included (see the class comment). */
    static final int EXISTS_REQUEST = 155;
    static final int EXISTS_ANSWER = 35;
    static final int PUT_START_REQUEST = 321;
    static final int PUT_START_ANSWER = 403;
    static final int PUT_COMMIT_REQUEST = 216;
    /** Sixteen index updates of 45 bytes: the node's eight new blocks and the eight evicted for them. */
    static final int PUT_COMMIT_ANSWER = 747;

    /** The RPC's I/O backend. */
    @Param({"epoll", "nio"})
    public String io;

    private MasterService master;
    private MasterClient client;
    private long nextKey;
    /** The node's index updates applied so far (the last sequence number the master handed back). */
    private long acked;
    private final int[] crcs = new int[KEYS];
    private final BlockKey[] keys = new BlockKey[KEYS];
    private final String[] names = new String[KEYS];
    private ServerSocket rawServer;
    private Thread rawThread;
    private Socket raw;
    private OutputStream rawOut;
    private DataInputStream rawIn;
    private final byte[] rawBuffer = new byte[1024];

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        System.setProperty("ferry.rpc.io", io);
        master = new MasterService("127.0.0.1", 0, new LruPolicy(), TimeUnit.DAYS.toMillis(1));
        client = new MasterClient("127.0.0.1", master.port(), 5_000);
        // An indexed node, as a sidecar's: its commits hand back its index updates.
        client.register(NODE, new SegmentDescriptor(NODE + "/dram", SEGMENT_BLOCKS * BLOCK_BYTES,
                new Endpoint("127.0.0.1", 9)), new NodeFeatures(true, 0, ""), List.of());
        for (int i = 0; i < SEGMENT_BLOCKS / KEYS; i++) {
            putStartCommit();
        }
        int updates = putStartCommit();
        if (updates != 2 * KEYS) {
            throw new IllegalStateException("a put into the full segment handed back " + updates
                    + " index updates, not " + 2 * KEYS + ": the baseline's frame sizes no longer match");
        }
        rawServer = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        rawThread = new Thread(this::echo, "raw-ping-pong");
        rawThread.setDaemon(true);
        rawThread.start();
        raw = new Socket(InetAddress.getLoopbackAddress(), rawServer.getLocalPort());
        raw.setTcpNoDelay(true);
        rawOut = raw.getOutputStream();
        rawIn = new DataInputStream(raw.getInputStream());
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        try {
            raw.close();
            rawServer.close();
        } finally {
            client.close();
            master.close();
            System.clearProperty("ferry.rpc.io");
        }
    }

    /** The baseline's server: reads a frame (length, then the answer's length), answers with that many bytes. */
    private void echo() {
        try (Socket s = rawServer.accept()) {
            s.setTcpNoDelay(true);
            DataInputStream in = new DataInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            byte[] buffer = new byte[1024];
            while (true) {
                int length = in.readInt();
                in.readFully(buffer, 0, length);
                int answer = ((buffer[0] & 0xff) << 8) | (buffer[1] & 0xff);
                writeFrame(out, buffer, answer);
            }
        } catch (IOException closed) {
            // the trial is over
        }
    }

    /** Writes a frame of {@code frameBytes} in one write: its length, then (in the first two bytes) {@code answerBytes}. */
    private static void writeFrame(OutputStream out, byte[] buffer, int frameBytes, int answerBytes) throws IOException {
        int length = frameBytes - 4;
        buffer[0] = (byte) (length >>> 24);
        buffer[1] = (byte) (length >>> 16);
        buffer[2] = (byte) (length >>> 8);
        buffer[3] = (byte) length;
        buffer[4] = (byte) (answerBytes >>> 8);
        buffer[5] = (byte) answerBytes;
        out.write(buffer, 0, frameBytes);
    }

    private static void writeFrame(OutputStream out, byte[] buffer, int frameBytes) throws IOException {
        writeFrame(out, buffer, frameBytes, 0);
    }

    private int pingPong(int requestBytes, int answerBytes) {
        try {
            writeFrame(rawOut, rawBuffer, requestBytes, answerBytes);
            int length = rawIn.readInt();
            rawIn.readFully(rawBuffer, 0, length);
            return length;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** EXISTS of {@value #KEYS} keys, the last put's: a lookup each. */
    @Benchmark
    public boolean[] exists() {
        return client.exists(keys);
    }

    /** One ping-pong of EXISTS's frame sizes. */
    @Benchmark
    public int existsBaseline() {
        return pingPong(EXISTS_REQUEST, EXISTS_ANSWER);
    }

    /** A put of {@value #KEYS} fresh blocks at the master: its allocation and its commit. */
    @Benchmark
    public int putStartCommit() {
        for (int i = 0; i < KEYS; i++) {
            keys[i] = BlockKey.of(++nextKey);
            names[i] = String.format("bench-key-%07d", nextKey % 10_000_000);
        }
        List<Placement> placed = client.putStart(keys, BLOCK_BYTES, 1, null, names);
        if (placed.size() != KEYS || placed.stream().anyMatch(Placement::exists)) {
            throw new IllegalStateException("a put of " + KEYS + " new keys placed " + placed);
        }
        List<IndexUpdate> updates = client.putCommit(keys, crcs, NODE, acked);
        if (!updates.isEmpty()) {
            acked = updates.getLast().seq();
        }
        return updates.size();
    }

    /** Two ping-pongs of PUT_START_NAMED's and PUT_COMMIT's frame sizes. */
    @Benchmark
    public int putStartCommitBaseline() {
        return pingPong(PUT_START_REQUEST, PUT_START_ANSWER) + pingPong(PUT_COMMIT_REQUEST, PUT_COMMIT_ANSWER);
    }
}
