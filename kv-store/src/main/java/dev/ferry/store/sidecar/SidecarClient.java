package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;

import dev.ferry.store.block.BlockKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A blocking Java client of the sidecar protocol, one request at a time per connection
 * (what the Python client does too): the reference for docs/protocol.md, and what tests and
 * benchmarks use. Block bytes go through shared buffers the caller registers
 * ({@link #registerBuffer} of a {@link Memfd}); {@link #putInline} and {@link #getInline} carry them in the
 * frame for remote clients, over TCP or, to a sidecar serving TLS, {@link #connectTls}.
 *
 * <p>Speaks protocol version {@value SidecarProtocol#VERSION} (16-byte keys, named blocks)
 * unless connected for another ({@link #connect(Path, int)}); methods taking {@code long}
 * keys send {@link BlockKey#of(long)}; the named requests ({@link #putNamed},
 * {@link #getNamed}, {@link #statNamed}, {@link #removeByRegex}) need version 3.
 *
 * <p>Thread-safe (calls are serialized). Reuses its frame buffers: steady-state calls
 * allocate only their results. Errors answered by the sidecar throw
 * {@link SidecarException} with its status; a lost connection throws
 * {@link UncheckedIOException}. Owns a socket: close it.
 */
public final class SidecarClient implements AutoCloseable {
    private final ByteChannel channel;
    private ByteBuffer out = ByteBuffer.allocateDirect(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
    private ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
    private long nextId = 1;
    private int maxFrameBytes;
    private boolean sharedBuffers;
    private long sessionId;
    private int version;
    private String segmentName = "";
    private String dataAddress = "";

    private SidecarClient(ByteChannel channel) {
        this.channel = channel;
    }

    /** Connects to the Unix socket at {@code path} and says HELLO. */
    public static SidecarClient connect(Path path) {
        return connect(path, VERSION);
    }

    /**
     * Connects to the Unix socket at {@code path} and says HELLO for {@code version} only
     * (1: 8-byte keys, as clients of earlier builds; 2: 16-byte keys; 3: named blocks too).
     *
     * @throws SidecarException UNSUPPORTED_VERSION when the sidecar does not speak it
     */
    public static SidecarClient connect(Path path, int version) {
        return open(StandardProtocolFamily.UNIX, UnixDomainSocketAddress.of(path), null, version);
    }

    /** Connects over TCP and says HELLO with {@code token} (null for none). */
    public static SidecarClient connectTcp(String host, int port, String token) {
        return open(StandardProtocolFamily.INET, new InetSocketAddress(host, port), token, VERSION);
    }

    /**
     * Connects over TCP with mutual TLS ({@code tls}: this client's certificate and the
     * cluster CA) and says HELLO with {@code token} (null for none).
     *
     * @throws UncheckedIOException when the connection or its TLS handshake fails, with the reason
     */
    public static SidecarClient connectTls(String host, int port, String token, dev.ferry.transfer.tls.TlsConfig tls) {
        TlsSocketChannel ch = TlsSocketChannel.connect(host, port, tls);
        SidecarClient c = new SidecarClient(ch);
        try {
            c.hello(token, VERSION);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private static SidecarClient open(StandardProtocolFamily family, java.net.SocketAddress address, String token,
                                      int version) {
        SocketChannel ch;
        try {
            ch = SocketChannel.open(family);
            ch.connect(address);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot connect to the sidecar at " + address + ": " + e.getMessage(), e);
        }
        SidecarClient c = new SidecarClient(ch);
        try {
            c.hello(token, version);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private void hello(String token, int asked) {
        byte[] t = token == null ? new byte[0] : token.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = begin(HELLO, 6 + t.length);
        b.putShort((short) asked).putShort((short) asked).putShort((short) t.length).put(t);
        ByteBuffer r = call();
        version = r.getShort() & 0xFFFF;
        sharedBuffers = (r.getShort() & 1) != 0;
        maxFrameBytes = r.getInt();
        r.getInt();
        r.getInt();
        r.getLong();
        sessionId = r.getLong();
        if (version >= NAMED_VERSION) {
            segmentName = string(r);
            dataAddress = string(r);
        }
    }

    private static String string(ByteBuffer r) {
        byte[] b = new byte[r.getShort() & 0xFFFF];
        r.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** The sidecar's segment name (version 3; empty before). */
    public String segmentName() {
        return segmentName;
    }

    /** The sidecar's data address, {@code host:port} (version 3; empty before). */
    public String dataAddress() {
        return dataAddress;
    }

    /** The protocol version of this connection. */
    public int version() {
        return version;
    }

    /** Largest frame the sidecar accepts, bytes. */
    public int maxFrameBytes() {
        return maxFrameBytes;
    }

    /** Whether this connection may register shared buffers (it is local). */
    public boolean sharedBuffers() {
        return sharedBuffers;
    }

    /** The sidecar's id for this connection. */
    public long sessionId() {
        return sessionId;
    }

    /**
     * Registers a shared buffer by path; returns its id. The sidecar accepts only a memfd
     * sealed against shrinking, named {@code /proc/<this pid>/fd/<n>}: use {@link Memfd#path()}.
     *
     * @throws SidecarException OUT_OF_RANGE for any other file (or another size), NOT_LOCAL over TCP
     */
    public synchronized int registerBuffer(Path path, long bytes) {
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        begin(REGISTER_BUFFER, 10 + p.length).putLong(bytes).putShort((short) p.length).put(p);
        return call().getInt();
    }

    public synchronized void unregisterBuffer(int bufferId) {
        begin(UNREGISTER_BUFFER, 4).putInt(bufferId);
        call();
    }

    /**
     * Stores blocks from a shared buffer: block {@code keys[i]} is {@code lengths[i]} bytes at
     * {@code offsets[i]} of buffer {@code bufferId}.
     *
     * @return per key 0 (stored) or 1 (already there)
     */
    public synchronized byte[] put(BlockKey[] keys, int bufferId, long[] offsets, long[] lengths) {
        ByteBuffer b = begin(PUT, 4 + entryBytes(PUT_ENTRY, version) * keys.length).putInt(keys.length);
        for (int i = 0; i < keys.length; i++) {
            key(b, keys[i]).putInt(bufferId).putInt(0).putLong(offsets[i]).putLong(lengths[i]);
        }
        return bytes(call());
    }

    /**
     * Reads blocks into a shared buffer: block {@code keys[i]} goes to {@code offsets[i]}, where
     * {@code capacities[i]} bytes are free.
     *
     * @return per key the block's length, bytes, or -1 when it is not in the store
     */
    public synchronized long[] get(BlockKey[] keys, int bufferId, long[] offsets, long[] capacities) {
        ByteBuffer b = begin(GET, 4 + entryBytes(GET_ENTRY, version) * keys.length).putInt(keys.length);
        for (int i = 0; i < keys.length; i++) {
            key(b, keys[i]).putInt(bufferId).putInt(0).putLong(offsets[i]).putLong(capacities[i]);
        }
        ByteBuffer r = call();
        long[] lengths = new long[r.getInt()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = r.getLong();
        }
        return lengths;
    }

    /** One block into a shared buffer; returns its length or -1 when missing. Allocation-free. */
    public synchronized long get(BlockKey key, int bufferId, long offset, long capacity) {
        key(begin(GET, 4 + entryBytes(GET_ENTRY, version)).putInt(1), key).putInt(bufferId).putInt(0).putLong(offset).putLong(capacity);
        ByteBuffer r = call();
        r.getInt();
        return r.getLong();
    }

    public synchronized boolean[] exists(BlockKey... keys) {
        keys(EXISTS, keys);
        byte[] b = bytes(call());
        boolean[] out = new boolean[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] != 0;
        }
        return out;
    }

    /** @return per key 0 removed, 1 not found, 2 leased (kept) */
    public synchronized byte[] remove(BlockKey... keys) {
        keys(REMOVE, keys);
        return bytes(call());
    }

    /**
     * Removes every block of the store that no reader leases; with {@code force}, hard-pinned
     * blocks too.
     *
     * @return how many blocks were removed
     */
    public synchronized long removeAll(boolean force) {
        begin(REMOVE_ALL, 1).put((byte) (force ? 1 : 0));
        return call().getLong();
    }

    /**
     * Sets how this connection's later PUT, PUT_INLINE and PUT_COMMIT place and keep their
     * blocks: {@code replicas} copies per new block (PUT and PUT_INLINE; PUT_START places one),
     * and, with {@code hardPin}, a pin against eviction of every key put or committed.
     */
    public synchronized void putOptions(int replicas, boolean hardPin) {
        begin(PUT_OPTIONS, 5).putInt(replicas).put((byte) (hardPin ? 1 : 0));
        call();
    }

    /**
     * PUT_OPTIONS of version 3: {@link #putOptions(int, boolean)}, plus a soft pin of
     * {@code softPinMillis} (0 for none) and the segment for the first copy (null for the
     * sidecar's own): a segment name, node id or data address {@code host:port}.
     */
    public synchronized void putOptions(int replicas, boolean hardPin, long softPinMillis, String preferredSegment) {
        byte[] p = preferredSegment == null ? new byte[0] : preferredSegment.getBytes(StandardCharsets.UTF_8);
        begin(PUT_OPTIONS, 15 + p.length).putInt(replicas).put((byte) (hardPin ? 1 : 0)).putLong(softPinMillis)
                .putShort((short) p.length).put(p);
        call();
    }

    /**
     * PUT_NAMED (version 3): stores the value of {@code names[i]}, {@code lengths[i]} bytes at
     * {@code offsets[i]} of the buffer, under block key {@code keys[i]}.
     *
     * @return per key 0 stored, 1 there under this name (nothing written), 2 ({@link SidecarProtocol#OTHER_KEY})
     *         the block key holds another name's value
     */
    public synchronized byte[] putNamed(BlockKey[] keys, String[] names, int bufferId, long[] offsets, long[] lengths) {
        byte[][] n = utf8(names);
        ByteBuffer b = begin(PUT_NAMED, 4 + NAMED_ENTRY * keys.length + total(n)).putInt(keys.length);
        for (int i = 0; i < keys.length; i++) {
            key(b, keys[i]).putInt(bufferId).putInt(n[i].length).putLong(offsets[i]).putLong(lengths[i]);
        }
        for (byte[] name : n) {
            b.put(name);
        }
        return bytes(call());
    }

    /**
     * GET_NAMED (version 3): reads the block of {@code keys[i]} to {@code offsets[i]} of the
     * buffer ({@code capacities[i]} bytes free) and compares its name with {@code names[i]}.
     *
     * @return per key the value's length (the value lies {@code 16 + name bytes} after the
     *         offset), -1 missing, -2 another name's block (zeroed), -3 longer than the capacity
     */
    public synchronized long[] getNamed(BlockKey[] keys, String[] names, int bufferId, long[] offsets,
                                        long[] capacities) {
        byte[][] n = utf8(names);
        ByteBuffer b = begin(GET_NAMED, 4 + NAMED_ENTRY * keys.length + total(n)).putInt(keys.length);
        for (int i = 0; i < keys.length; i++) {
            key(b, keys[i]).putInt(bufferId).putInt(n[i].length).putLong(offsets[i]).putLong(capacities[i]);
        }
        for (byte[] name : n) {
            b.put(name);
        }
        return longs(call());
    }

    /** STAT_NAMED (version 3): per key the value's length, -1 missing, -2 another name's block. */
    public synchronized long[] statNamed(BlockKey[] keys, String[] names) {
        byte[][] n = utf8(names);
        ByteBuffer b = begin(STAT_NAMED, 4 + STAT_ENTRY * keys.length + total(n)).putInt(keys.length);
        for (int i = 0; i < keys.length; i++) {
            key(b, keys[i]).putInt(n[i].length);
        }
        for (byte[] name : n) {
            b.put(name);
        }
        return longs(call());
    }

    /** REMOVE_BY_REGEX (version 3): removes the unleased blocks whose name matches; how many were removed. */
    public synchronized long removeByRegex(String pattern, boolean force) {
        byte[] p = pattern.getBytes(StandardCharsets.UTF_8);
        begin(REMOVE_BY_REGEX, 5 + p.length).put((byte) (force ? 1 : 0)).putInt(p.length).put(p);
        return call().getLong();
    }

    private static byte[][] utf8(String[] names) {
        byte[][] out = new byte[names.length][];
        for (int i = 0; i < names.length; i++) {
            out[i] = names[i].getBytes(StandardCharsets.UTF_8);
        }
        return out;
    }

    private static int total(byte[][] parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        return n;
    }

    private static long[] longs(ByteBuffer r) {
        long[] out = new long[r.getInt()];
        for (int i = 0; i < out.length; i++) {
            out[i] = r.getLong();
        }
        return out;
    }

    /** How many leading keys are in the store. */
    public synchronized int lookupPrefix(BlockKey... keys) {
        keys(LOOKUP_PREFIX, keys);
        return call().getInt();
    }

    /** First phase of a ranged put; per key 0 (allocated: write its ranges, then commit) or 1 (already there). */
    public synchronized byte[] putStart(BlockKey[] keys, long[] lengths) {
        ByteBuffer b = begin(PUT_START, 4 + entryBytes(SIZED_KEY_ENTRY, version) * keys.length).putInt(keys.length);
        for (int i = 0; i < keys.length; i++) {
            key(b, keys[i]).putLong(lengths[i]);
        }
        return bytes(call());
    }

    /** Writes {@code length} bytes at {@code bufferOffset} of the buffer to {@code blockOffset} of a started block. */
    public synchronized void writeRange(BlockKey key, long blockOffset, int bufferId, long bufferOffset, long length) {
        range(WRITE_RANGE, key, blockOffset, bufferId, bufferOffset, length);
        call();
    }

    /** Reads {@code length} bytes at {@code blockOffset} of a block to {@code bufferOffset} of the buffer. */
    public synchronized void readRange(BlockKey key, long blockOffset, int bufferId, long bufferOffset, long length) {
        range(READ_RANGE, key, blockOffset, bufferId, bufferOffset, length);
        call();
    }

    private void range(int opcode, BlockKey key, long blockOffset, int bufferId, long bufferOffset, long length) {
        key(begin(opcode, 4 + entryBytes(RANGE_ENTRY, version)).putInt(1), key).putLong(blockOffset).putInt(bufferId).putInt(0)
                .putLong(bufferOffset).putLong(length);
    }

    /**
     * One block of PUT_FROM or GET_INTO in two parts: {@code headBytes} at {@code headOffset} of
     * shared buffer {@code headBuffer}, then {@code valueBytes} at {@code valueOffset} of shared
     * buffer {@code valueBuffer}, or, with {@link SidecarProtocol#PROCESS_MEMORY}, at address
     * {@code valueOffset} of this process's own memory. For GET_INTO the byte counts are capacities.
     */
    public record TwoParts(BlockKey key, int headBuffer, long headOffset, long headBytes, int valueBuffer,
                           long valueOffset, long valueBytes) {
    }

    /**
     * Stores whole blocks gathered from two parts each, in one request (the sidecar copies each
     * part once and checksums the stored block).
     *
     * @return per key 0 stored, 1 already there, 2 its value's memory is not mapped readable (nothing stored)
     * @throws SidecarException NO_PROCESS_ACCESS when the sidecar may not reach this process's memory,
     *                          BAD_STATE when a key is stored with another length (nothing stored)
     */
    public synchronized byte[] putFrom(TwoParts... entries) {
        twoParts(PUT_FROM, entries);
        return bytes(call());
    }

    /**
     * Reads whole blocks (checked against their CRC32C) in two parts each: the first
     * {@code min(headBytes, length)} bytes to the head, the rest to the value.
     *
     * @return per key the block's length, -1 not in the store, -2 the rest longer than the value's
     *         capacity (only the head copied), -3 the value's memory is not mapped writable
     * @throws SidecarException NO_PROCESS_ACCESS when the sidecar may not reach this process's memory
     */
    public synchronized long[] getInto(TwoParts... entries) {
        twoParts(GET_INTO, entries);
        ByteBuffer r = call();
        long[] lengths = new long[r.getInt()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = r.getLong();
        }
        return lengths;
    }

    private void twoParts(int opcode, TwoParts[] entries) {
        ByteBuffer b = begin(opcode, 4 + entryBytes(TWO_PART_ENTRY, version) * entries.length).putInt(entries.length);
        for (TwoParts e : entries) {
            key(b, e.key()).putInt(e.headBuffer()).putInt(e.valueBuffer()).putLong(e.headOffset())
                    .putLong(e.headBytes()).putLong(e.valueOffset()).putLong(e.valueBytes());
        }
    }

    /** Publishes started blocks whose ranges cover them. */
    public synchronized void putCommit(BlockKey... keys) {
        keys(PUT_COMMIT, keys);
        call();
    }

    public synchronized void putAbort(BlockKey... keys) {
        keys(PUT_ABORT, keys);
        call();
    }

    /** Stores blocks carried in the frame (remote clients); per key 0 stored or 1 already there. */
    public synchronized byte[] putInline(BlockKey[] keys, byte[][] blocks) {
        int total = 0;
        for (byte[] block : blocks) {
            total += block.length;
        }
        ByteBuffer b = begin(PUT_INLINE, 4 + entryBytes(SIZED_KEY_ENTRY, version) * keys.length + total)
                .putInt(keys.length);
        for (int i = 0; i < keys.length; i++) {
            key(b, keys[i]).putLong(blocks[i].length);
        }
        for (byte[] block : blocks) {
            b.put(block);
        }
        return bytes(call());
    }

    /** Reads blocks carried back in the frame; null for a key not in the store. */
    public synchronized byte[][] getInline(BlockKey... keys) {
        keys(GET_INLINE, keys);
        ByteBuffer r = call();
        long[] lengths = new long[r.getInt()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = r.getLong();
        }
        byte[][] blocks = new byte[lengths.length][];
        for (int i = 0; i < lengths.length; i++) {
            if (lengths[i] >= 0) {
                blocks[i] = new byte[(int) lengths[i]];
                r.get(blocks[i]);
            }
        }
        return blocks;
    }

    /** An answer as received. */
    public record Answer(int opcode, int status, long requestId, byte[] body) {
    }

    /**
     * Sends {@code frame} as is (any bytes: for tests of malformed input) and, when
     * {@code answer}, reads one answer frame.
     *
     * @return the answer, or null when not asked for
     */
    public synchronized Answer raw(byte[] frame, boolean answer) {
        try {
            ByteBuffer b = ByteBuffer.wrap(frame);
            while (b.hasRemaining()) {
                channel.write(b);
            }
            if (!answer) {
                return null;
            }
            receive();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] body = new byte[in.remaining() - HEADER_BYTES];
        in.get(HEADER_BYTES, body);
        return new Answer(in.getShort(4) & 0xFFFF, in.getShort(6) & 0xFFFF, in.getLong(8), body);
    }

    private void keys(int opcode, BlockKey[] keys) {
        ByteBuffer b = begin(opcode, 4 + keyBytes(version) * keys.length).putInt(keys.length);
        for (BlockKey k : keys) {
            key(b, k);
        }
    }

    private ByteBuffer key(ByteBuffer b, BlockKey key) {
        return writeKey(b, key, version);
    }

    // The same calls with 64-bit keys, each sent as BlockKey.of(k).

    public byte[] put(long[] keys, int bufferId, long[] offsets, long[] lengths) {
        return put(BlockKey.ofAll(keys), bufferId, offsets, lengths);
    }

    public long[] get(long[] keys, int bufferId, long[] offsets, long[] capacities) {
        return get(BlockKey.ofAll(keys), bufferId, offsets, capacities);
    }

    public long get(long key, int bufferId, long offset, long capacity) {
        return get(BlockKey.of(key), bufferId, offset, capacity);
    }

    public boolean[] exists(long... keys) {
        return exists(BlockKey.ofAll(keys));
    }

    public byte[] remove(long... keys) {
        return remove(BlockKey.ofAll(keys));
    }

    public int lookupPrefix(long... keys) {
        return lookupPrefix(BlockKey.ofAll(keys));
    }

    public byte[] putStart(long[] keys, long[] lengths) {
        return putStart(BlockKey.ofAll(keys), lengths);
    }

    public void writeRange(long key, long blockOffset, int bufferId, long bufferOffset, long length) {
        writeRange(BlockKey.of(key), blockOffset, bufferId, bufferOffset, length);
    }

    public void readRange(long key, long blockOffset, int bufferId, long bufferOffset, long length) {
        readRange(BlockKey.of(key), blockOffset, bufferId, bufferOffset, length);
    }

    public void putCommit(long... keys) {
        putCommit(BlockKey.ofAll(keys));
    }

    public void putAbort(long... keys) {
        putAbort(BlockKey.ofAll(keys));
    }

    public byte[] putInline(long[] keys, byte[][] blocks) {
        return putInline(BlockKey.ofAll(keys), blocks);
    }

    public byte[][] getInline(long... keys) {
        return getInline(BlockKey.ofAll(keys));
    }

    private static byte[] bytes(ByteBuffer r) {
        byte[] out = new byte[r.getInt()];
        r.get(out);
        return out;
    }

    private ByteBuffer begin(int opcode, int bodyBytes) {
        int size = HEADER_BYTES + bodyBytes;
        if (out.capacity() < size) {
            out = ByteBuffer.allocateDirect(Math.max(size, out.capacity() * 2)).order(ByteOrder.LITTLE_ENDIAN);
        }
        out.clear();
        out.putInt(size - 4).putShort((short) opcode).putShort((short) 0).putLong(nextId++);
        return out;
    }

    /** Sends the frame being built and returns the answer's body (valid until the next call). */
    private ByteBuffer call() {
        long id = out.getLong(8);
        int opcode = out.getShort(4);
        out.flip();
        try {
            while (out.hasRemaining()) {
                channel.write(out);
            }
            receive();
        } catch (IOException e) {
            throw new UncheckedIOException("sidecar connection lost: " + e.getMessage(), e);
        }
        int status = in.getShort(6) & 0xFFFF;
        long answered = in.getLong(8);
        if (answered != id && !(answered == CONNECTION_ID && status != OK)) {
            throw new IllegalStateException("answer for request " + answered + ", expected " + id);
        }
        in.position(HEADER_BYTES);
        if (status != OK) { // an error of this request, or of the whole connection (request id 0)
            int n = in.getShort() & 0xFFFF;
            byte[] text = new byte[n];
            in.get(text);
            throw new SidecarException(status, SidecarProtocol.opcodeName(opcode) + ": "
                    + new String(text, StandardCharsets.UTF_8));
        }
        return in;
    }

    /** Reads one frame into {@code in} (position 0, limit at its end). */
    private void receive() throws IOException {
        in.clear().limit(4);
        fill();
        int size = 4 + in.getInt(0);
        if (in.capacity() < size) {
            ByteBuffer bigger = ByteBuffer.allocateDirect(Math.max(size, in.capacity() * 2)).order(ByteOrder.LITTLE_ENDIAN);
            bigger.putInt(in.getInt(0));
            in = bigger;
        }
        in.limit(size);
        fill();
        in.flip();
    }

    private void fill() throws IOException {
        while (in.hasRemaining()) {
            if (channel.read(in) < 0) {
                throw new IOException("the sidecar closed the connection");
            }
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
