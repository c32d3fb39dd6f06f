package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.ParallelCopy;
import dev.ferry.store.client.DirectStoreClient;
import dev.ferry.store.client.KeyNotFoundException;
import dev.ferry.store.client.LengthConflictException;
import dev.ferry.store.client.PutOptions;
import dev.ferry.store.client.StoreException;
import dev.ferry.store.master.Placement;
import dev.ferry.store.rpc.RpcException;
import io.netty.buffer.ByteBuf;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * Serves the requests of the sidecar protocol (every opcode but HELLO, which the connection
 * handles) against the store: decodes the body, checks every field before anything moves
 * (so a refused request changes nothing), runs the operation with
 * {@link DirectStoreClient}, and writes the answer body. Block bytes of local clients move
 * between their shared buffers and the store with no copy through the socket.
 *
 * <p>Thread-safe; requests run concurrently (blocking calls, on virtual threads).
 */
final class SidecarOps implements AutoCloseable {
    private final DirectStoreClient store;
    private final IntSupplier bufferIds;
    private final SidecarMetrics metrics;
    private final int maxFrameBytes;
    /** The sidecar's segment name and data address ({@code host:port}), told to version-3 clients in HELLO. */
    private volatile String[] identity = {"", ""};
    private final boolean processMemory;
    private final ParallelCopy copier;
    /** Populates the mappings of clients' shared buffers; null when kept lazy ({@code FERRY_LAZY_SLAB=true}). */
    private final dev.ferry.nativemem.MappingPopulator buffersPopulator =
            Boolean.parseBoolean(System.getenv("FERRY_LAZY_SLAB")) ? null
                    : new dev.ferry.nativemem.MappingPopulator("ferry-buffer-populate");

    /**
     * @param bufferIds     source of buffer ids, unique across connections
     * @param maxFrameBytes largest frame, bytes (bounds GET_INLINE answers)
     */
    SidecarOps(DirectStoreClient store, IntSupplier bufferIds, SidecarMetrics metrics, int maxFrameBytes) {
        this(store, bufferIds, metrics, maxFrameBytes, true);
    }

    /**
     * @param processMemory whether PUT_FROM and GET_INTO may reach a local client's private
     *                      memory ({@link ProcessMemory}); false answers them NO_PROCESS_ACCESS
     */
    SidecarOps(DirectStoreClient store, IntSupplier bufferIds, SidecarMetrics metrics, int maxFrameBytes,
               boolean processMemory) {
        this(store, bufferIds, metrics, maxFrameBytes, processMemory, ParallelCopy.SERIAL);
    }

    /**
     * @param copier splits the copies of one large PUT_FROM across two threads (owned by the
     *               caller, closed after this)
     */
    SidecarOps(DirectStoreClient store, IntSupplier bufferIds, SidecarMetrics metrics, int maxFrameBytes,
               boolean processMemory, ParallelCopy copier) {
        this.copier = copier;
        this.store = store;
        this.bufferIds = bufferIds;
        this.metrics = metrics;
        this.maxFrameBytes = maxFrameBytes;
        this.processMemory = processMemory;
    }

    /** Names the sidecar's segment and its data address ({@code host:port}) for HELLO's answer of version 3. */
    void identify(String segment, String address) {
        identity = new String[] {segment, address};
    }

    /** The segment name and data address of {@link #identify}; empty strings until then. */
    String[] identity() {
        return identity.clone();
    }

    /**
     * Serves one request.
     *
     * @param body the request body (read from its reader index to its end)
     * @param out  the answer, header already written: the body is appended
     * @throws RuntimeException mapped to a status by {@link #status(Throwable)}
     */
    void serve(ClientSession session, int opcode, ByteBuf body, ByteBuf out) {
        switch (opcode) {
            case REGISTER_BUFFER -> registerBuffer(session, body, out);
            case UNREGISTER_BUFFER -> {
                int id = u32(body);
                end(body);
                session.unregister(id);
            }
            case PUT -> put(session, body, out);
            case GET -> get(session, body, out);
            case EXISTS -> exists(session, body, out);
            case REMOVE -> {
                byte[] results = store.remove(keys(session, body));
                out.writeIntLE(results.length).writeBytes(results);
            }
            case REMOVE_ALL -> {
                need(body, 1);
                int force = body.readUnsignedByte();
                end(body);
                if (force > 1) {
                    throw new SidecarException(MALFORMED, "REMOVE_ALL: force is 0 or 1, not " + force);
                }
                out.writeLongLE(store.removeAll(force == 1));
            }
            case PUT_OPTIONS -> putOptions(session, body);
            case LOOKUP_PREFIX -> {
                BlockKey[] keys = keys(session, body);
                int hits = store.lookupPrefix(keys);
                metrics.hits(hits, keys.length - hits);
                out.writeIntLE(hits);
            }
            case PUT_START -> putStart(session, body, out);
            case WRITE_RANGE -> writeRange(session, body);
            case PUT_COMMIT -> putCommit(session, body);
            case PUT_ABORT -> putAbort(session, body);
            case READ_RANGE -> readRange(session, body);
            case PUT_FROM -> putFrom(session, body, out);
            case GET_INTO -> getInto(session, body, out);
            case PUT_INLINE -> putInline(session, body, out);
            case GET_INLINE -> getInline(session, body, out);
            case PUT_NAMED -> named(session, opcode).put(body, out);
            case GET_NAMED -> named(session, opcode).get(body, out);
            case STAT_NAMED -> named(session, opcode).stat(body, out);
            case REMOVE_BY_REGEX -> named(session, opcode).removeByRegex(body, out);
            default -> throw new SidecarException(UNKNOWN_OPCODE, "unknown opcode " + opcode);
        }
    }

    /**
     * Registers a client's memfd, received over the socket ({@link BufferAdmission}'s rule).
     *
     * @param fd    the descriptor as received (the caller closes it; the mapping stays)
     * @param bytes the size the client announced; the memfd must be exactly that long
     * @throws SidecarException OUT_OF_RANGE (unsealed, another size, mapped already), QUOTA_EXCEEDED, NOT_LOCAL
     */
    SharedBuffer registerMemfd(ClientSession session, int fd, long bytes) {
        return populated(session.register(bytes, () -> BufferAdmission.map(fd, bytes), bufferIds));
    }

    private SharedBuffer populated(SharedBuffer buffer) {
        if (buffersPopulator != null) {
            buffer.populateWith(buffersPopulator);
        }
        return buffer;
    }

    /** Bytes of clients' shared buffers populated in the sidecar's mappings so far. */
    long buffersPopulatedBytes() {
        return buffersPopulator == null ? 0 : buffersPopulator.populatedBytes();
    }

    /** Stops populating clients' buffers (their sessions release them first). */
    @Override
    public void close() {
        if (buffersPopulator != null) {
            buffersPopulator.close();
        }
    }

    /** The status code that answers a failure. */
    static int status(Throwable e) {
        return switch (e) {
            case SidecarException s -> s.status();
            case KeyNotFoundException k -> NOT_FOUND;
            case IllegalArgumentException i -> OUT_OF_RANGE;
            case LengthConflictException c -> BAD_STATE;
            case StoreException s when s.getCause() instanceof RpcException r && r.status() == RpcException.NO_SPACE ->
                    NO_SPACE;
            case StoreException s -> STORE_ERROR;
            default -> INTERNAL;
        };
    }

    private void registerBuffer(ClientSession session, ByteBuf body, ByteBuf out) {
        long bytes = u64(body);
        need(body, 2);
        int n = body.readUnsignedShortLE();
        need(body, n);
        String path = body.readCharSequence(n, StandardCharsets.UTF_8).toString();
        end(body);
        out.writeIntLE(populated(session.register(bytes, () -> BufferAdmission.mapPath(path, bytes,
                session.peerPid()), bufferIds)).id());
    }

    private void put(ClientSession session, ByteBuf body, ByteBuf out) {
        int version = session.version();
        int n = count(body, entryBytes(PUT_ENTRY, version), true);
        BlockKey[] keys = new BlockKey[n];
        MemorySegment[] blocks = new MemorySegment[n];
        try (ClientSession.Held held = new ClientSession.Held(session)) {
            for (int i = 0; i < n; i++) {
                keys[i] = readKey(body, version);
                int buffer = body.readIntLE();
                body.skipBytes(4);
                blocks[i] = held.slice(buffer, body.readLongLE(), body.readLongLE());
            }
            byte[] results = store.put(keys, blocks, session.putOptions());
            countWritten(results, blocks);
            out.writeIntLE(n).writeBytes(results);
        }
    }

    /**
     * PUT_OPTIONS: replicas u32, flags u8 (bit 0: hard pin); from version 3 optionally
     * followed by a soft pin u64 (ms, 0 for none) and a preferred segment (u16 length, UTF-8).
     */
    private static void putOptions(ClientSession session, ByteBuf body) {
        need(body, 5);
        long replicas = body.readUnsignedIntLE();
        int flags = body.readUnsignedByte();
        long softPinMillis = 0;
        String preferred = null;
        if (body.isReadable() && session.version() >= NAMED_VERSION) {
            need(body, 10);
            softPinMillis = body.readLongLE();
            int n = body.readUnsignedShortLE();
            need(body, n);
            preferred = body.readCharSequence(n, StandardCharsets.UTF_8).toString();
        }
        end(body);
        if ((flags & ~1) != 0) {
            throw new SidecarException(MALFORMED, "PUT_OPTIONS: flags other than bit 0 (hard pin) must be 0, got " + flags);
        }
        if (replicas < 1 || replicas > PutOptions.MAX_REPLICAS) {
            throw new SidecarException(OUT_OF_RANGE, "PUT_OPTIONS: replicas must be 1 to " + PutOptions.MAX_REPLICAS
                    + ", not " + replicas);
        }
        if (softPinMillis < 0) {
            throw new SidecarException(OUT_OF_RANGE, "PUT_OPTIONS: the soft pin is 0 (none) or more ms, not "
                    + softPinMillis);
        }
        session.putOptions(new PutOptions((int) replicas, flags == 1, softPinMillis, preferred));
    }

    /** The named requests of {@code session}, which must have agreed on version 3 or later. */
    private NamedOps named(ClientSession session, int opcode) {
        if (session.version() < NAMED_VERSION) {
            throw new SidecarException(UNKNOWN_OPCODE, opcodeName(opcode) + " (" + opcode + ") is a request of "
                    + "protocol version " + NAMED_VERSION + "; this connection agreed on version " + session.version());
        }
        return new NamedOps(store, metrics, session, maxFrameBytes);
    }

    private void countWritten(byte[] results, MemorySegment[] blocks) {
        long bytes = 0;
        for (int i = 0; i < results.length; i++) {
            if (results[i] == DirectStoreClient.STORED) {
                bytes += blocks[i].byteSize();
            }
        }
        metrics.bytesIn(bytes);
    }

    private void get(ClientSession session, ByteBuf body, ByteBuf out) {
        int version = session.version();
        int n = count(body, entryBytes(GET_ENTRY, version), true);
        BlockKey[] keys = new BlockKey[n];
        MemorySegment[] dest = new MemorySegment[n];
        try (ClientSession.Held held = new ClientSession.Held(session)) {
            for (int i = 0; i < n; i++) {
                keys[i] = readKey(body, version);
                int buffer = body.readIntLE();
                body.skipBytes(4);
                dest[i] = held.slice(buffer, body.readLongLE(), body.readLongLE());
            }
            // Too large for the event loop but maybe cached: a copy with no master call then.
            DirectStoreClient.CachedRead cached = new DirectStoreClient.CachedRead(n);
            System.arraycopy(keys, 0, cached.keys, 0, n);
            System.arraycopy(dest, 0, cached.destinations, 0, n);
            cached.count(n);
            if (store.readCached(cached, Long.MAX_VALUE)) {
                writeLengths(cached.lengths, n, out);
                return;
            }
            long[] lengths = store.get(keys, replicas -> dest);
            writeLengths(lengths, lengths.length, out);
        }
    }

    /**
     * Serves a GET on the calling thread (the connection's event loop) when the store can
     * without blocking: every key's lease is in the lease cache and the blocks, at most
     * {@code maxBytes} in all, live in this sidecar's own segment
     * ({@link DirectStoreClient#readCached}). Anything else (a key not cached, a malformed
     * body, a bad buffer or range) is left to {@link #serve}, which answers it in full.
     *
     * @param read scratch of the calling thread; its capacity bounds the keys served here
     * @param held scratch of the calling thread, empty on entry and on return
     * @return true when the answer body was written to {@code out}; false when nothing was
     *         (the body's reader index may have moved: the caller resets it)
     */
    boolean getCached(ClientSession session, ByteBuf body, ByteBuf out, DirectStoreClient.CachedRead read,
                      ClientSession.Held held, long maxBytes) {
        if (body.readableBytes() < 4) {
            return false;
        }
        int version = session.version();
        long n = body.readUnsignedIntLE();
        if (n == 0 || n > read.capacity() || n * entryBytes(GET_ENTRY, version) != body.readableBytes()) {
            return false;
        }
        try {
            for (int i = 0; i < n; i++) {
                read.keys[i] = readKey(body, version);
                int buffer = body.readIntLE();
                body.skipBytes(4);
                read.destinations[i] = held.slice(buffer, body.readLongLE(), body.readLongLE());
            }
            read.count((int) n);
            if (!store.readCached(read, maxBytes)) {
                return false;
            }
            writeLengths(read.lengths, (int) n, out);
            return true;
        } catch (SidecarException e) {
            return false; // the full path answers it with its status
        } finally {
            held.close();
            java.util.Arrays.fill(read.destinations, 0, (int) n, null);
        }
    }

    /**
     * {@link #getCached} of a GET_NAMED of a connection of version 3: every entry names a
     * shared buffer and the lease cache holds every block ({@link NamedOps#getCached}).
     */
    boolean getNamedCached(ClientSession session, ByteBuf body, ByteBuf out, DirectStoreClient.CachedRead read,
                           ClientSession.Held held, long maxBytes) {
        return session.version() >= NAMED_VERSION
                && new NamedOps(store, metrics, session, maxFrameBytes).getCached(body, out, read, held, maxBytes);
    }

    private void writeLengths(long[] lengths, int n, ByteBuf out) {
        int found = 0;
        long bytes = 0;
        out.writeIntLE(n);
        for (int i = 0; i < n; i++) {
            long length = lengths[i];
            out.writeLongLE(length);
            if (length >= 0) {
                found++;
                bytes += length;
            }
        }
        metrics.hits(found, lengths.length - found);
        metrics.bytesOut(bytes);
    }

    private void exists(ClientSession session, ByteBuf body, ByteBuf out) {
        BlockKey[] keys = keys(session, body);
        boolean[] present = store.exists(keys);
        int found = 0;
        out.writeIntLE(keys.length);
        for (boolean p : present) {
            out.writeByte(p ? 1 : 0);
            found += p ? 1 : 0;
        }
        metrics.hits(found, keys.length - found);
    }

    private void putStart(ClientSession session, ByteBuf body, ByteBuf out) {
        int version = session.version();
        int n = count(body, entryBytes(SIZED_KEY_ENTRY, version), true);
        BlockKey[] keys = new BlockKey[n];
        long[] lengths = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = readKey(body, version);
            lengths[i] = body.readLongLE();
        }
        Placement[] placed = reserve(keys, lengths);
        byte[] results = new byte[n];
        List<BlockKey> started = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                results[i] = placed[i].exists() ? DirectStoreClient.EXISTED : DirectStoreClient.STORED;
                if (!placed[i].exists()) {
                    started.add(keys[i]);
                    if (!session.addPending(new PendingBlock(placed[i]))) {
                        throw new SidecarException(BAD_STATE, "connection is closing");
                    }
                }
            }
        } catch (Throwable e) { // errors too: no pending block may outlive a failed request
            for (BlockKey key : started) {
                session.removePending(key);
            }
            store.abort(startedKeys(placed));
            throw e;
        }
        out.writeIntLE(n).writeBytes(results);
    }

    /**
     * Allocates blocks of the given lengths, one master call per distinct length (the master
     * allocates one size per call), in order of first use; on a failure, what was allocated is
     * freed and nothing stays.
     *
     * @return per key its placement ({@link Placement#exists()} for a key already there)
     * @throws SidecarException OUT_OF_RANGE for a length under 1 byte (nothing is allocated)
     */
    private Placement[] reserve(BlockKey[] keys, long[] lengths) {
        Map<Long, List<Integer>> bySize = new LinkedHashMap<>();
        for (int i = 0; i < keys.length; i++) {
            if (lengths[i] < 1) {
                throw new SidecarException(OUT_OF_RANGE, "block key " + keys[i] + ": length must be at least 1 byte");
            }
            bySize.computeIfAbsent(lengths[i], l -> new ArrayList<>()).add(i);
        }
        Placement[] placed = new Placement[keys.length];
        try {
            for (Map.Entry<Long, List<Integer>> group : bySize.entrySet()) {
                BlockKey[] groupKeys = group.getValue().stream().map(i -> keys[i]).toArray(BlockKey[]::new);
                List<Placement> placements = store.reserve(groupKeys, group.getKey());
                for (int j = 0; j < placements.size(); j++) {
                    placed[group.getValue().get(j)] = placements.get(j);
                }
            }
        } catch (Throwable e) { // errors too: nothing allocated may stay
            store.abort(startedKeys(placed));
            throw e;
        }
        return placed;
    }

    /** The keys of placements that were allocated (not null, not already there). */
    private static BlockKey[] startedKeys(Placement[] placed) {
        return java.util.Arrays.stream(placed).filter(p -> p != null && !p.exists()).map(Placement::key)
                .toArray(BlockKey[]::new);
    }

    /** One entry of PUT_FROM or GET_INTO: the block's first part in a shared buffer, the rest in {@code value}. */
    private record TwoParts(BlockKey key, MemorySegment head, long headBytes, MemorySegment value, long address,
                            long valueBytes) {
        /** Whether the rest is in the client's private memory, at {@link #address}. */
        boolean inProcess() {
            return value == null && valueBytes > 0;
        }
    }

    /**
     * Reads {@code n} PUT_FROM / GET_INTO entries; the shared-buffer parts are held by {@code held}.
     *
     * @throws SidecarException MALFORMED, UNKNOWN_BUFFER, OUT_OF_RANGE
     */
    private static TwoParts[] twoParts(ClientSession session, ByteBuf body, int n, ClientSession.Held held) {
        int version = session.version();
        TwoParts[] parts = new TwoParts[n];
        for (int i = 0; i < n; i++) {
            BlockKey key = readKey(body, version);
            int headBuffer = body.readIntLE();
            int valueBuffer = body.readIntLE();
            long headOffset = body.readLongLE();
            long headBytes = body.readLongLE();
            long valueOffset = body.readLongLE();
            long valueBytes = body.readLongLE();
            if (headBytes < 0 || valueBytes < 0 || headBytes + valueBytes < 1) {
                throw new SidecarException(OUT_OF_RANGE, "block key " + key + ": parts of " + headBytes + " and "
                        + valueBytes + " bytes: each at least 0, together at least 1");
            }
            MemorySegment head = headBytes == 0 ? null : held.slice(headBuffer, headOffset, headBytes);
            MemorySegment value = valueBytes == 0 || valueBuffer == PROCESS_MEMORY ? null
                    : held.slice(valueBuffer, valueOffset, valueBytes);
            parts[i] = new TwoParts(key, head, headBytes, value, valueOffset, valueBytes);
        }
        return parts;
    }

    /**
     * The client's process id when an entry names its private memory (checked reachable), else -1.
     *
     * @throws SidecarException NO_PROCESS_ACCESS when it cannot be reached (nothing was done)
     */
    private long processOf(ClientSession session, TwoParts[] parts) {
        for (TwoParts p : parts) {
            if (!p.inProcess()) {
                continue;
            }
            try {
                if (!processMemory) {
                    throw new SidecarException(NO_PROCESS_ACCESS, "this sidecar does not reach clients' private "
                            + "memory (--no-process-memory): use shared buffers");
                }
                if (!session.local()) {
                    throw new SidecarException(NO_PROCESS_ACCESS, "only a client on the Unix socket, as the "
                            + "sidecar's user, may name its private memory");
                }
                ProcessMemory.probe(session.peerPid(), p.address());
            } catch (SidecarException e) {
                metrics.processMemoryRefused();
                throw e;
            }
            return session.peerPid();
        }
        return -1;
    }

    /** PUT_FROM answer of a key whose value could not be read from the client's memory (not mapped). */
    static final byte UNREADABLE = 2;

    private void putFrom(ClientSession session, ByteBuf body, ByteBuf out) {
        int n = count(body, entryBytes(TWO_PART_ENTRY, session.version()), true);
        try (ClientSession.Held held = new ClientSession.Held(session); Arena scratch = Arena.ofConfined();
             ProcessMemory.Calls calls = new ProcessMemory.Calls()) {
            TwoParts[] parts = twoParts(session, body, n, held);
            long pid = processOf(session, parts);
            BlockKey[] keys = new BlockKey[n];
            long[] lengths = new long[n];
            for (int i = 0; i < n; i++) {
                keys[i] = parts[i].key();
                lengths[i] = parts[i].headBytes() + parts[i].valueBytes();
                if (lengths[i] < 1) {
                    throw new SidecarException(OUT_OF_RANGE, "block key " + keys[i] + ": length must be at least 1 byte");
                }
            }
            byte[] results = putInPlace(session, calls, pid, parts, keys, lengths);
            int[] rest = java.util.stream.IntStream.range(0, n)
                    .filter(i -> results == null || results[i] == DirectStoreClient.USUAL).toArray();
            byte[] answers = results != null ? results : new byte[n];
            if (rest.length > 0) {
                TwoParts[] restParts = new TwoParts[rest.length];
                BlockKey[] restKeys = new BlockKey[rest.length];
                long[] restLengths = new long[rest.length];
                for (int j = 0; j < rest.length; j++) {
                    restParts[j] = parts[rest[j]];
                    restKeys[j] = keys[rest[j]];
                    restLengths[j] = lengths[rest[j]];
                }
                byte[] usual = putUsual(session, calls, scratch, pid, restParts, restKeys, restLengths);
                for (int j = 0; j < rest.length; j++) {
                    answers[rest[j]] = usual[j];
                }
            }
            out.writeIntLE(n).writeBytes(answers);
        }
    }

    /**
     * PUT_FROM into this node's space granted ahead ({@link DirectStoreClient#putInPlace}): one
     * call of the master. Answers per key, {@link DirectStoreClient#USUAL} for the keys to put
     * the usual way; null when none was put so.
     */
    private byte[] putInPlace(ClientSession session, ProcessMemory.Calls calls, long pid, TwoParts[] parts,
                              BlockKey[] keys, long[] lengths) {
        int n = keys.length;
        boolean[] local = new boolean[n];
        java.util.Arrays.fill(local, true);
        byte[] results = store.putInPlace(keys, lengths, null, blocks -> {
            Integer[] sums = new Integer[n];
            copy(calls, pid, parts, blocks, local, sums);
            return sums;
        });
        if (results == null) {
            return null;
        }
        List<BlockKey> stored = new ArrayList<>(n);
        long bytes = 0;
        for (int i = 0; i < n; i++) {
            if (results[i] == DirectStoreClient.UNFILLED) {
                results[i] = UNREADABLE;
            } else if (results[i] == DirectStoreClient.STORED) {
                stored.add(keys[i]);
                bytes += lengths[i];
                metrics.copied(parts[i].inProcess(), parts[i].valueBytes());
            }
        }
        if (session.putOptions().hardPin() && !stored.isEmpty()) {
            store.pin(stored.toArray(BlockKey[]::new));
        }
        metrics.bytesIn(bytes);
        return results;
    }

    /** PUT_FROM the usual way: allocated by the master, filled, committed. Answers per key. */
    private byte[] putUsual(ClientSession session, ProcessMemory.Calls calls, Arena scratch, long pid,
                            TwoParts[] parts, BlockKey[] keys, long[] lengths) {
        int n = keys.length;
        Placement[] placed = reserve(keys, lengths);
        byte[] results = new byte[n];
        List<BlockKey> filled = new ArrayList<>(n);
        List<BlockKey> unreadable = new ArrayList<>();
        int[] crcs = new int[n];
        boolean committed = false;
        try {
            long bytes = 0;
            MemorySegment[] blocks = new MemorySegment[n];
            boolean[] local = new boolean[n];
            for (int i = 0; i < n; i++) {
                if (!placed[i].exists()) {
                    MemorySegment here = store.localBlock(placed[i]);
                    local[i] = here != null;
                    blocks[i] = here != null ? here : scratch.allocate(lengths[i], 64);
                }
            }
            Integer[] sums = new Integer[n];
            copy(calls, pid, parts, blocks, local, sums);
            for (int i = 0; i < n; i++) {
                if (placed[i].exists()) {
                    results[i] = DirectStoreClient.EXISTED;
                    continue;
                }
                if (sums[i] == null) {
                    results[i] = UNREADABLE;
                    unreadable.add(keys[i]);
                    continue;
                }
                crcs[filled.size()] = sums[i];
                if (!local[i]) {
                    store.writeRanges(List.of(placed[i]), new long[] {0}, new MemorySegment[] {blocks[i]});
                }
                filled.add(keys[i]);
                bytes += lengths[i];
                metrics.copied(parts[i].inProcess(), parts[i].valueBytes());
            }
            store.abort(unreadable.toArray(BlockKey[]::new));
            store.commit(filled.toArray(BlockKey[]::new), java.util.Arrays.copyOf(crcs, filled.size()),
                    session.putOptions().hardPin());
            committed = true;
            metrics.bytesIn(bytes);
        } finally { // errors too: no allocated block may stay unpublished
            if (!committed) {
                store.abort(startedKeys(placed));
            }
        }
        return results;
    }

    /**
     * Fills the blocks of PUT_FROM ({@code blocks[i]}; null: nothing to write) and takes
     * their CRC32C as they lie there ({@code sums[i]}; stays null for a value not mapped
     * readable in the client). A batch whose blocks all lie in this process's segment is
     * split across two threads by {@link #copier}, each half with its own process_vm_readv calls.
     */
    private void copy(ProcessMemory.Calls calls, long pid, TwoParts[] parts, MemorySegment[] blocks, boolean[] local,
                      Integer[] sums) {
        long[] bytes = new long[parts.length];
        boolean allLocal = true;
        for (int i = 0; i < parts.length; i++) {
            if (blocks[i] != null) {
                bytes[i] = parts[i].headBytes() + parts[i].valueBytes();
                allLocal &= local[i] && (parts[i].head() == null || ParallelCopy.shareable(parts[i].head()))
                        && (parts[i].value() == null || ParallelCopy.shareable(parts[i].value()));
            }
        }
        // scratch blocks (of a copy on another node) belong to the request's thread
        ParallelCopy split = allLocal ? copier : ParallelCopy.SERIAL;
        Thread caller = Thread.currentThread();
        split.run(bytes, (from, to) -> {
            if (Thread.currentThread() == caller) {
                fillRange(calls, pid, parts, blocks, from, to, sums);
                return;
            }
            try (ProcessMemory.Calls own = new ProcessMemory.Calls()) {
                fillRange(own, pid, parts, blocks, from, to, sums);
            }
        });
    }

    /** {@link #copy} of the entries {@code [from, to)}. */
    private static void fillRange(ProcessMemory.Calls calls, long pid, TwoParts[] parts, MemorySegment[] blocks,
                                  int from, int to, Integer[] sums) {
        boolean[] readable = new boolean[parts.length];
        int unread = from; // entries from here on have not been read from private memory yet
        for (int i = from; i < to; i++) {
            if (i >= unread) { // the next group, read while the last one's checksums were taken
                unread = readPrivate(calls, pid, parts, blocks, i, to, readable);
            }
            if (blocks[i] != null && readable[i]) {
                // Over the bytes where they now lie: what a reader will check is what was stored.
                sums[i] = fill(parts[i], blocks[i]);
            }
        }
    }

    /**
     * Most value bytes of private memory moved by one process_vm_readv / writev call of
     * PUT_FROM and GET_INTO, unless one value is larger (1 MiB): small values share a call
     * (each call costs some 50 us on top of its bytes), while the bytes of a call are still
     * in the cache when their CRC32C is taken (a put) or was just checked (a get).
     */
    static final long PROCESS_CALL_BYTES = 1 << 20;

    /**
     * Reads the values of private memory of entries {@code from}..{@code to} (exclusive) into their blocks
     * ({@code blocks[i]}, after the first part; null: not written), up to
     * {@link #PROCESS_CALL_BYTES} of them (at least one) in one process_vm_readv call, and
     * says in {@code readable} per entry whether its value is there (true for entries of shared
     * buffers and those not written; false: not mapped readable in the client).
     *
     * @return the first entry not looked at
     */
    private static int readPrivate(ProcessMemory.Calls calls, long pid, TwoParts[] parts, MemorySegment[] blocks,
                                   int from, int to, boolean[] readable) {
        List<Integer> which = new ArrayList<>();
        long bytes = 0;
        int i = from;
        for (; i < to; i++) {
            if (blocks[i] == null || !parts[i].inProcess()) {
                readable[i] = true;
                continue;
            }
            if (!which.isEmpty() && bytes + parts[i].valueBytes() > PROCESS_CALL_BYTES) {
                break;
            }
            which.add(i);
            bytes += parts[i].valueBytes();
        }
        if (which.isEmpty()) {
            return i;
        }
        long[] addresses = new long[which.size()];
        MemorySegment[] into = new MemorySegment[which.size()];
        for (int j = 0; j < which.size(); j++) {
            TwoParts p = parts[which.get(j)];
            addresses[j] = p.address();
            into[j] = blocks[which.get(j)].asSlice(p.headBytes(), p.valueBytes());
        }
        boolean[] read = calls.readAll(pid, addresses, into);
        for (int j = 0; j < which.size(); j++) {
            readable[which.get(j)] = read[j];
        }
        return i;
    }

    /**
     * Copies an entry's first part, and its value when it lies in a shared buffer, into
     * {@code block} (a value of private memory is there already: {@link #readPrivate}) and
     * takes the CRC32C of the bytes as they lie there.
     *
     * @return the CRC32C of the block
     */
    private static Integer fill(TwoParts p, MemorySegment block) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        if (p.head() != null) {
            MemorySegment.copy(p.head(), 0, block, 0, p.headBytes());
            crc.update(block.asSlice(0, p.headBytes()).asByteBuffer());
        }
        if (p.inProcess()) {
            crc.update(block.asSlice(p.headBytes(), p.valueBytes()).asByteBuffer());
            return (int) crc.getValue();
        }
        BlockContent.copyWithCrc(p.value(), block.asSlice(p.headBytes(), p.valueBytes()), crc);
        return (int) crc.getValue();
    }

    /** GET_INTO answer of a key whose rest is longer than its second part's capacity (only the first part copied). */
    static final long TOO_LONG = -2;
    /** GET_INTO answer of a key whose destination is not mapped writable in the client. */
    static final long UNWRITABLE = -3;

    private void getInto(ClientSession session, ByteBuf body, ByteBuf out) {
        int n = count(body, entryBytes(TWO_PART_ENTRY, session.version()), true);
        try (ClientSession.Held held = new ClientSession.Held(session);
             ProcessMemory.Calls calls = new ProcessMemory.Calls()) {
            TwoParts[] parts = twoParts(session, body, n, held);
            long pid = processOf(session, parts);
            BlockKey[] keys = new BlockKey[n];
            for (int i = 0; i < n; i++) {
                keys[i] = parts[i].key();
            }
            long[] lengths = store.getInPlace(keys, new Scatter(calls, pid, parts));
            writeLengths(lengths, n, out);
        }
    }

    /**
     * GET_INTO's visitor: copies each checked block to its entry's two parts; the values bound
     * for the client's private memory are gathered and written by one process_vm_writev per
     * {@link #PROCESS_CALL_BYTES} (the last ones at the end, while the blocks are still leased).
     */
    private final class Scatter implements DirectStoreClient.BlockVisitor {
        private final ProcessMemory.Calls calls;
        private final long pid;
        private final TwoParts[] parts;
        private final int[] which;
        private final MemorySegment[] rests;
        private final boolean[] unwritable;
        /** Whether every value is written at the end, split across two threads by {@link #copier}. */
        private final boolean atEnd;
        private int gathered;
        private long gatheredBytes;

        Scatter(ProcessMemory.Calls calls, long pid, TwoParts[] parts) {
            this.calls = calls;
            this.pid = pid;
            this.parts = parts;
            this.which = new int[parts.length];
            this.rests = new MemorySegment[parts.length];
            this.unwritable = new boolean[parts.length];
            long bytes = 0;
            int values = 0;
            for (TwoParts p : parts) {
                if (p.inProcess()) {
                    bytes += p.valueBytes();
                    values++;
                }
            }
            this.atEnd = copier.splits(values, bytes);
        }

        /** Its length, TOO_LONG, or UNWRITABLE (also set by {@link #finish} for a gathered value that fails later). */
        @Override
        public long accept(int i, MemorySegment block) {
            long answer = copy(i, block);
            if (!atEnd && gathered > 0 && gatheredBytes >= PROCESS_CALL_BYTES) {
                write();
            }
            return unwritable[i] ? UNWRITABLE : answer;
        }

        private long copy(int i, MemorySegment block) {
            TwoParts p = parts[i];
            long head = Math.min(p.headBytes(), block.byteSize());
            long rest = block.byteSize() - head;
            if (head > 0) { // also when the rest does not fit: the client tells its own block from another's by it
                MemorySegment.copy(block, 0, p.head(), 0, head);
            }
            if (rest > p.valueBytes()) {
                return TOO_LONG;
            }
            if (rest > 0) {
                if (p.inProcess()) {
                    which[gathered] = i;
                    rests[gathered++] = block.asSlice(head, rest);
                    gatheredBytes += rest;
                    return block.byteSize();
                }
                MemorySegment.copy(block, head, p.value(), 0, rest);
                metrics.copied(false, rest);
            }
            return block.byteSize();
        }

        @Override
        public void finish(long[] answers) {
            if (gathered > 0) {
                write();
            }
            for (int i = 0; i < parts.length; i++) {
                if (unwritable[i]) {
                    answers[i] = UNWRITABLE;
                }
            }
        }

        /**
         * Writes the values gathered so far to the client's memory, in one call per IOV_MAX of
         * them; split across two threads when {@link #atEnd}, each half with its own calls.
         */
        private void write() {
            long[] addresses = new long[gathered];
            long[] bytes = new long[gathered];
            for (int j = 0; j < gathered; j++) {
                addresses[j] = parts[which[j]].address();
                bytes[j] = rests[j].byteSize();
            }
            boolean[] written = new boolean[gathered];
            boolean split = atEnd;
            for (int j = 0; j < gathered && split; j++) {
                split = ParallelCopy.shareable(rests[j]); // a copy read from another node lies in confined scratch
            }
            Thread caller = Thread.currentThread();
            (split ? copier : ParallelCopy.SERIAL).run(bytes, (from, to) -> {
                if (Thread.currentThread() == caller) {
                    writeRange(calls, addresses, from, to, written);
                    return;
                }
                try (ProcessMemory.Calls own = new ProcessMemory.Calls()) {
                    writeRange(own, addresses, from, to, written);
                }
            });
            for (int j = 0; j < gathered; j++) {
                if (written[j]) {
                    metrics.copied(true, rests[j].byteSize());
                } else {
                    unwritable[which[j]] = true;
                }
                rests[j] = null;
            }
            gathered = 0;
            gatheredBytes = 0;
        }

        /** Writes the gathered values {@code [from, to)}, telling in {@code written} which were. */
        private void writeRange(ProcessMemory.Calls with, long[] addresses, int from, int to, boolean[] written) {
            boolean[] done = with.writeAll(pid, java.util.Arrays.copyOfRange(addresses, from, to),
                    java.util.Arrays.copyOfRange(rests, from, to));
            System.arraycopy(done, 0, written, from, to - from);
        }
    }

    private void writeRange(ClientSession session, ByteBuf body) {
        int version = session.version();
        int n = count(body, entryBytes(RANGE_ENTRY, version), true);
        List<Placement> targets = new ArrayList<>(n);
        PendingBlock[] blocks = new PendingBlock[n];
        long[] offsets = new long[n];
        MemorySegment[] sources = new MemorySegment[n];
        try (ClientSession.Held held = new ClientSession.Held(session)) {
            for (int i = 0; i < n; i++) {
                blocks[i] = session.pending(readKey(body, version));
                offsets[i] = body.readLongLE();
                int buffer = body.readIntLE();
                body.skipBytes(4);
                sources[i] = held.slice(buffer, body.readLongLE(), body.readLongLE());
                blocks[i].check(offsets[i], sources[i].byteSize());
                targets.add(blocks[i].placement());
            }
            int[] crcs = new int[n];
            for (int i = 0; i < n; i++) {
                crcs[i] = BlockContent.crc32c(sources[i]);
            }
            store.writeRanges(targets, offsets, sources);
            long bytes = 0;
            for (int i = 0; i < n; i++) {
                blocks[i].written(offsets[i], sources[i].byteSize(), crcs[i]);
                bytes += sources[i].byteSize();
            }
            metrics.bytesIn(bytes);
        }
    }

    private void putCommit(ClientSession session, ByteBuf body) {
        BlockKey[] keys = keys(session, body);
        int[] crcs = new int[keys.length];
        for (int i = 0; i < keys.length; i++) {
            crcs[i] = session.pending(keys[i]).crcOfWholeBlock();
        }
        store.commit(keys, crcs, session.putOptions());
        for (BlockKey key : keys) {
            session.removePending(key);
        }
    }

    private void putAbort(ClientSession session, ByteBuf body) {
        BlockKey[] keys = keys(session, body);
        for (BlockKey key : keys) {
            session.pending(key);
        }
        for (BlockKey key : keys) {
            session.removePending(key);
        }
        store.abort(keys);
    }

    private void readRange(ClientSession session, ByteBuf body) {
        int version = session.version();
        int n = count(body, entryBytes(RANGE_ENTRY, version), true);
        BlockKey[] keys = new BlockKey[n];
        long[] offsets = new long[n];
        MemorySegment[] dest = new MemorySegment[n];
        try (ClientSession.Held held = new ClientSession.Held(session)) {
            long bytes = 0;
            for (int i = 0; i < n; i++) {
                keys[i] = readKey(body, version);
                offsets[i] = body.readLongLE();
                int buffer = body.readIntLE();
                body.skipBytes(4);
                dest[i] = held.slice(buffer, body.readLongLE(), body.readLongLE());
                bytes += dest[i].byteSize();
            }
            store.readRanges(keys, offsets, dest);
            metrics.bytesOut(bytes);
        }
    }

    private void putInline(ClientSession session, ByteBuf body, ByteBuf out) {
        int version = session.version();
        int n = count(body, entryBytes(SIZED_KEY_ENTRY, version), false);
        BlockKey[] keys = new BlockKey[n];
        long[] lengths = new long[n];
        long total = 0;
        for (int i = 0; i < n; i++) {
            keys[i] = readKey(body, version);
            lengths[i] = body.readLongLE();
            if (lengths[i] < 1 || lengths[i] > body.readableBytes()) {
                throw new SidecarException(MALFORMED, "block key " + keys[i] + ": length " + lengths[i]
                        + " is not between 1 and the bytes in the frame");
            }
            total += lengths[i];
        }
        if (total != body.readableBytes()) {
            throw new SidecarException(MALFORMED, "entries announce " + total + " bytes of blocks, the frame carries "
                    + body.readableBytes());
        }
        MemorySegment[] blocks = new MemorySegment[n];
        int at = body.readerIndex();
        for (int i = 0; i < n; i++) {
            blocks[i] = MemorySegment.ofBuffer(body.nioBuffer(at, (int) lengths[i]));
            at += (int) lengths[i];
        }
        byte[] results = store.put(keys, blocks, session.putOptions());
        countWritten(results, blocks);
        out.writeIntLE(n).writeBytes(results);
    }

    private void getInline(ClientSession session, ByteBuf body, ByteBuf out) {
        BlockKey[] keys = keys(session, body);
        int lengthsAt = out.writerIndex() + 4;
        int bytesAt = lengthsAt + 8 * keys.length;
        MemorySegment[][] laidOut = new MemorySegment[1][];
        long[] lengths = store.get(keys, replicas -> {
            long total = 0;
            for (var r : replicas) {
                total += r == null ? 0 : r.length();
            }
            if (bytesAt + total > maxFrameBytes) {
                throw new SidecarException(OUT_OF_RANGE, "the answer would carry " + total + " bytes of blocks, more "
                        + "than a frame may (" + maxFrameBytes + " bytes): ask for fewer keys");
            }
            out.ensureWritable((int) (bytesAt + total - out.writerIndex()));
            MemorySegment[] dest = new MemorySegment[replicas.size()];
            int at = bytesAt;
            for (int i = 0; i < dest.length; i++) {
                if (replicas.get(i) != null) {
                    int length = (int) replicas.get(i).length();
                    dest[i] = MemorySegment.ofBuffer(out.nioBuffer(at, length));
                    at += length;
                }
            }
            laidOut[0] = dest;
            return dest;
        });
        // A block laid out but found corrupt in every copy is a miss now: close its gap.
        long total = 0;
        long placedAt = 0;
        for (int i = 0; i < keys.length; i++) {
            MemorySegment placed = laidOut[0] == null ? null : laidOut[0][i];
            if (placed == null) {
                continue;
            }
            if (lengths[i] >= 0) {
                if (placedAt != total) {
                    MemorySegment.copy(placed, 0, MemorySegment.ofBuffer(out.nioBuffer((int) (bytesAt + total),
                            (int) lengths[i])), 0, lengths[i]);
                }
                total += lengths[i];
            }
            placedAt += placed.byteSize();
        }
        writeLengths(lengths, lengths.length, out);
        out.writerIndex((int) (bytesAt + total));
    }

    /** A body of keys only: a u32 count, then the keys as the session's version carries them. */
    private static BlockKey[] keys(ClientSession session, ByteBuf body) {
        int version = session.version();
        int n = count(body, keyBytes(version), true);
        BlockKey[] keys = new BlockKey[n];
        for (int i = 0; i < n; i++) {
            keys[i] = readKey(body, version);
        }
        return keys;
    }

    /** Reads a u32 entry count; {@code exact}: the entries must be all that is left. */
    static int count(ByteBuf body, int entryBytes, boolean exact) {
        long n = u32(body) & 0xFFFF_FFFFL;
        long bytes = n * entryBytes;
        if (exact ? bytes != body.readableBytes() : bytes > body.readableBytes()) {
            throw new SidecarException(MALFORMED, n + " entries of " + entryBytes + " bytes do not match the "
                    + body.readableBytes() + " body bytes that follow the count");
        }
        return (int) n;
    }

    private static int u32(ByteBuf body) {
        need(body, 4);
        return body.readIntLE();
    }

    private static long u64(ByteBuf body) {
        need(body, 8);
        return body.readLongLE();
    }

    static void need(ByteBuf body, int bytes) {
        if (body.readableBytes() < bytes) {
            throw new SidecarException(MALFORMED, "body too short: need " + bytes + " more bytes, have "
                    + body.readableBytes());
        }
    }

    static void end(ByteBuf body) {
        if (body.isReadable()) {
            throw new SidecarException(MALFORMED, body.readableBytes() + " unexpected bytes at the end of the body");
        }
    }
}
