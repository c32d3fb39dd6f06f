package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.rpc.RpcException;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Seeded fuzzing of the master's RPC decoding over real sockets: frames with random and
 * mutated payloads for every method, bad kinds, lengths too short, too long and longer than
 * what follows. Each frame gets an answer with a precise error status (never INTERNAL) or
 * its connection closed, within a bound: no crash, no hang; and another client is served
 * all along. Bounded in frames and in time.
 */
class MasterFrameFuzzTest {
    private static final long SEED = 20_261_206L;
    private static final int FRAMES = 3_000;
    private static final long BUDGET_NANOS = 30_000_000_000L;
    /** Longer than the longest answer the master may defer (an index poll). */
    private static final int READ_TIMEOUT_MILLIS = (int) MasterProtocol.MAX_POLL_MILLIS + 5_000;
    private static final Set<Integer> EXPECTED = Set.of(RpcException.REFUSED, RpcException.MALFORMED,
            RpcException.NO_SPACE, RpcException.CONFLICT, RpcException.BUSY);
    /** SUSPECT probes a segment's endpoint: a fuzzed one could name any host. */
    private static final int[] METHODS = {MasterProtocol.REGISTER, MasterProtocol.HEARTBEAT,
            MasterProtocol.LOOKUP_PREFIX, MasterProtocol.PUT_START, MasterProtocol.PUT_COMMIT, MasterProtocol.PUT_ABORT,
            MasterProtocol.GET, MasterProtocol.RELEASE, MasterProtocol.SEGMENT, MasterProtocol.STATS,
            MasterProtocol.EXISTS, MasterProtocol.REMOVE, MasterProtocol.PIN, MasterProtocol.UNPIN,
            MasterProtocol.RENEW, MasterProtocol.DROP_CORRUPT, MasterProtocol.INDEX_POLL, 0, 3, 7, 19, 999, 65_535};

    private MasterService service;
    private MasterClient good;

    @BeforeEach
    void start() {
        service = new MasterService("127.0.0.1", 0, new LruPolicy(), 60_000);
        good = new MasterClient("127.0.0.1", service.port(), 5_000, 0);
    }

    @AfterEach
    void stop() {
        good.close();
        service.close();
    }

    @Test
    void malformedFramesGetAClearErrorOrAClosedConnectionAndTheMasterKeepsServing() throws IOException {
        Random random = new Random(SEED);
        long deadline = System.nanoTime() + BUDGET_NANOS;
        int answered = 0;
        int closed = 0;
        int[] statuses = new int[16];
        // Wide keys no fuzzed frame carries (theirs are narrow, or wide with a low half under 20).
        BlockKey[] goodKeys = {new BlockKey(0x600D_600D_600DL, 7_000), new BlockKey(0x600D_600D_600DL, 8_000)};
        for (int i = 0; i < FRAMES && System.nanoTime() < deadline; i++) {
            long callId = 1_000_000L + i;
            Frame f = frame(random, callId);
            try (Socket s = new Socket("127.0.0.1", service.port())) {
                s.setSoTimeout(READ_TIMEOUT_MILLIS);
                OutputStream out = s.getOutputStream();
                out.write(f.bytes);
                out.flush();
                s.shutdownOutput(); // a frame longer than what was sent ends here
                DataInputStream in = new DataInputStream(s.getInputStream());
                int length;
                try {
                    length = in.readInt();
                } catch (EOFException | SocketException gone) {
                    closed++;
                    continue;
                }
                assertThat(f.answerable).as("frame %d (%s) was answered", i, f.what).isTrue();
                byte[] body = new byte[length];
                in.readFully(body);
                ByteBuffer b = ByteBuffer.wrap(body);
                byte kind = b.get();
                assertThat(b.getLong()).isEqualTo(callId);
                assertThat(b.getShort() & 0xFFFF).isEqualTo(f.method);
                assertThat(b.getLong()).as("epoch of a master without etcd").isZero();
                if (kind == 2) {
                    int status = b.getShort() & 0xFFFF;
                    int n = b.getShort() & 0xFFFF;
                    String text = new String(body, b.position(), n, StandardCharsets.UTF_8);
                    assertThat(EXPECTED).as("frame %d (%s): status %d, %s", i, f.what, status, text).contains(status);
                    assertThat(text).isNotBlank();
                    statuses[status]++;
                } else {
                    assertThat(kind).isEqualTo((byte) 1);
                }
                answered++;
            } catch (SocketTimeoutException hang) {
                fail("frame %d (%s) got neither an answer nor a close within %d ms", i, f.what, READ_TIMEOUT_MILLIS);
            }
            if (i % 50 == 0) {
                assertThat(good.lookupPrefix(goodKeys)).isZero();
            }
        }
        assertThat(answered).isPositive();
        assertThat(closed).isPositive();
        assertThat(statuses[RpcException.MALFORMED]).isPositive();
        assertThat(statuses[RpcException.REFUSED]).isPositive();
        // Still serving, and no frame took a connection's worth of memory or a thread along.
        assertThat(good.lookupPrefix(goodKeys)).isZero();
    }

    private record Frame(byte[] bytes, boolean answerable, int method, String what) {
    }

    private static Frame frame(Random random, long callId) {
        int method = METHODS[random.nextInt(METHODS.length)];
        byte[] payload = payload(random, method);
        int shape = random.nextInt(10);
        byte kind = 0;
        int declared = 19 + payload.length;
        boolean answerable = true;
        String what = "method " + method + ", " + payload.length + " payload bytes";
        switch (shape) {
            case 0 -> {
                kind = (byte) (1 + random.nextInt(255));
                answerable = false;
                what += ", kind " + kind;
            }
            case 1 -> {
                declared = random.nextInt(19);
                answerable = false;
                what += ", length " + declared;
            }
            case 2 -> {
                declared = random.nextBoolean() ? (64 << 20) + 1 + random.nextInt(1000) : -1 - random.nextInt(1000);
                answerable = false;
                what += ", length " + declared;
            }
            case 3 -> {
                declared += 1 + random.nextInt(100);
                answerable = false;
                what += ", length beyond the bytes sent";
            }
            default -> { }
        }
        ByteBuffer b = ByteBuffer.allocate(4 + 19 + payload.length);
        b.putInt(declared).put(kind).putLong(callId).putShort((short) method).putLong(0).put(payload);
        byte[] bytes = b.array();
        if (shape == 1) {
            // A frame shorter than a header: only that many bytes follow the length.
            byte[] cut = new byte[4 + declared];
            System.arraycopy(bytes, 0, cut, 0, cut.length);
            return new Frame(cut, false, method, what);
        }
        return new Frame(bytes, answerable, method, what);
    }

    /** A payload of {@code method}: well formed, then cut, flipped or padded; or random bytes. */
    private static byte[] payload(Random random, int method) {
        if (random.nextInt(4) == 0) {
            byte[] junk = new byte[random.nextInt(200)];
            random.nextBytes(junk);
            return junk;
        }
        ByteBuffer b = ByteBuffer.allocate(4096);
        switch (method) {
            case MasterProtocol.REGISTER -> {
                b.putInt(random.nextInt(5) == 0 ? random.nextInt(4) : MasterProtocol.VERSION);
                string(b, random, "node-" + random.nextInt(4));
                string(b, random, "seg-" + random.nextInt(4));
                b.putLong(random.nextInt(3) == 0 ? random.nextLong() : 1 << 20);
                int endpoints = smallCount(random);
                b.putInt(endpoints);
                for (int i = 0; i < Math.min(endpoints, 4); i++) {
                    string(b, random, "127.0.0.1");
                    b.putInt(random.nextInt(70_000) - 1000);
                }
                string(b, random, "host");
                string(b, random, "");
                b.putInt(0);
                string(b, random, "");
                b.putInt(0);
                b.put((byte) random.nextInt(3)).putLong(random.nextLong());
                string(b, random, "");
                int kept = smallCount(random);
                b.putInt(kept);
                for (int i = 0; i < Math.min(kept, 8); i++) {
                    b.putLong(0).putLong(random.nextInt(100)).putLong(random.nextInt(3) == 0 ? random.nextLong() : 4096L * i)
                            .putLong(random.nextInt(3) == 0 ? random.nextLong() : 4096).putInt(random.nextInt());
                }
            }
            case MasterProtocol.HEARTBEAT -> {
                string(b, random, "node-" + random.nextInt(4));
                b.putLong(random.nextLong());
                keys(b, random);
                keys(b, random);
                keys(b, random);
            }
            case MasterProtocol.PUT_START -> {
                keys(b, random);
                b.putLong(random.nextInt(3) == 0 ? random.nextLong() : 4096).putInt(random.nextInt(5) - 1);
                string(b, random, random.nextBoolean() ? "" : "seg-" + random.nextInt(4));
            }
            case MasterProtocol.PUT_COMMIT -> {
                keys(b, random);
                int n = smallCount(random);
                b.putInt(n);
                for (int i = 0; i < Math.min(n, 16); i++) {
                    b.putInt(random.nextInt());
                }
            }
            case MasterProtocol.GET, MasterProtocol.PIN -> {
                keys(b, random);
                if (method == MasterProtocol.PIN) {
                    b.put((byte) random.nextInt(3));
                }
                b.putLong(random.nextInt(3) == 0 ? random.nextLong() : 1000);
            }
            case MasterProtocol.RELEASE -> b.putLong(random.nextInt(10));
            case MasterProtocol.RENEW -> b.putLong(random.nextInt(10)).putLong(random.nextLong());
            case MasterProtocol.SEGMENT -> string(b, random, "seg-" + random.nextInt(4));
            case MasterProtocol.DROP_CORRUPT -> {
                b.putLong(random.nextInt(3) == 0 ? random.nextLong() : 0).putLong(random.nextInt(10));
                string(b, random, "seg-" + random.nextInt(4));
                b.putLong(random.nextInt(3) == 0 ? random.nextLong() : 0).putInt(random.nextInt());
            }
            case MasterProtocol.INDEX_POLL -> {
                string(b, random, "node-" + random.nextInt(4));
                b.putLong(random.nextLong()).putLong(random.nextInt(3) == 0 ? random.nextLong() : 0);
            }
            default -> keys(b, random);
        }
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return switch (random.nextInt(4)) {
            case 0 -> java.util.Arrays.copyOf(out, random.nextInt(out.length + 1));
            case 1 -> {
                if (out.length > 0) {
                    out[random.nextInt(out.length)] ^= (byte) (1 << random.nextInt(8));
                }
                yield out;
            }
            case 2 -> java.util.Arrays.copyOf(out, out.length + random.nextInt(16));
            default -> out;
        };
    }

    private static int smallCount(Random random) {
        return switch (random.nextInt(6)) {
            case 0 -> -1 - random.nextInt(10);
            case 1 -> Integer.MAX_VALUE - random.nextInt(10);
            default -> random.nextInt(6);
        };
    }

    private static void string(ByteBuffer b, Random random, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        int n = random.nextInt(20) == 0 ? random.nextInt(70_000) : bytes.length;
        b.putShort((short) n).put(bytes);
    }

    /** A key array: a count, then 16-byte keys (mostly narrow, some wide). */
    private static void keys(ByteBuffer b, Random random) {
        int n = smallCount(random);
        b.putInt(n);
        for (int i = 0; i < Math.min(n, 16); i++) {
            b.putLong(random.nextInt(4) == 0 ? random.nextLong() : 0).putLong(random.nextInt(20));
        }
    }
}
