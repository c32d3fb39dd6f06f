package dev.ferry.store.sidecar;

import static dev.ferry.store.sidecar.SidecarProtocol.*;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.DirectStoreClient;
import dev.ferry.store.client.KeyNotFoundException;
import dev.ferry.store.client.LengthConflictException;
import dev.ferry.store.client.PutOptions;
import dev.ferry.store.client.StoreException;
import io.netty.buffer.ByteBuf;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The named requests of protocol version 3 for one request of one connection: blocks that
 * carry their string key before the value ({@link NamedBlock}), written with the key the
 * request names and compared against it on every hit, so that two string keys sharing a
 * block key never see each other's bytes (each such hit is counted,
 * {@code ferry.sidecar.key.mismatches}).
 *
 * <p>PUT_NAMED and GET_NAMED entries name a value in a shared buffer (buffer, offset,
 * length or capacity) or, with buffer id {@link #INLINE}, in the frame: for PUT_NAMED the
 * values follow the names, {@code offset} counted from the first byte after them; for
 * GET_NAMED the answer carries the values found after the lengths, each at most its
 * capacity. Not thread-safe: one instance per request.
 */
final class NamedOps {
    /** Buffer id of a PUT_NAMED or GET_NAMED entry whose value travels in the frame. */
    static final int INLINE = -1;
    /** Attempts of a put whose block key was taken but could not be read (removed, or being written). */
    private static final int PUT_ATTEMPTS = 3;

    private final DirectStoreClient store;
    private final SidecarMetrics metrics;
    private final ClientSession session;
    private final int maxFrameBytes;

    NamedOps(DirectStoreClient store, SidecarMetrics metrics, ClientSession session, int maxFrameBytes) {
        this.store = store;
        this.metrics = metrics;
        this.session = session;
        this.maxFrameBytes = maxFrameBytes;
    }

    /** One entry of PUT_NAMED or GET_NAMED. */
    private record Entry(BlockKey key, int buffer, byte[] name, long offset, long length) {
    }

    /** Reads {@code n} entries of {@link SidecarProtocol#NAMED_ENTRY} bytes, then their names. */
    private static List<Entry> entries(ByteBuf body) {
        int n = SidecarOps.count(body, NAMED_ENTRY, false);
        BlockKey[] keys = new BlockKey[n];
        int[] buffers = new int[n];
        int[] nameBytes = new int[n];
        long[] offsets = new long[n];
        long[] lengths = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = BlockKey.read(body);
            buffers[i] = body.readIntLE();
            nameBytes[i] = body.readIntLE();
            offsets[i] = body.readLongLE();
            lengths[i] = body.readLongLE();
        }
        List<Entry> entries = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            entries.add(new Entry(keys[i], buffers[i], name(body, keys[i], nameBytes[i]), offsets[i], lengths[i]));
        }
        return entries;
    }

    private static byte[] name(ByteBuf body, BlockKey key, int bytes) {
        if (bytes < 1 || bytes > body.readableBytes()) {
            throw new SidecarException(MALFORMED, "block key " + key + ": a string key of " + Integer.toUnsignedString(bytes)
                    + " bytes is not between 1 and the " + body.readableBytes() + " bytes left in the frame");
        }
        byte[] name = new byte[bytes];
        body.readBytes(name);
        return name;
    }

    /**
     * PUT_NAMED: stores each value under its block key, after its string key's header
     * (written from the sidecar's memory, the value straight from where it lies). Answers per
     * key 0 stored, 1 already stored under this string key (nothing written: a put keeps the
     * first value), {@link SidecarProtocol#OTHER_KEY} when the block key holds another string
     * key's value (nothing written).
     */
    void put(ByteBuf body, ByteBuf out) {
        List<Entry> entries = entries(body);
        int n = entries.size();
        int inlineStart = body.readerIndex();
        long inlineBytes = body.readableBytes();
        BlockKey[] keys = new BlockKey[n];
        byte[] results = new byte[n];
        Arena arena = Arena.ofAuto(); // headers and inline values: small, freed by the GC (closing a shared arena is slow)
        try (ClientSession.Held held = new ClientSession.Held(session)) {
            MemorySegment[][] parts = new MemorySegment[n][];
            String[] names = new String[n];
            for (int i = 0; i < n; i++) {
                Entry e = entries.get(i);
                keys[i] = e.key;
                MemorySegment value;
                if (e.buffer == INLINE) {
                    if (e.offset < 0 || e.length < 0 || e.offset > inlineBytes - e.length) {
                        throw new SidecarException(MALFORMED, "block key " + e.key + ": inline value [" + e.offset
                                + ", +" + e.length + ") lies outside the " + inlineBytes + " bytes after the names");
                    }
                    value = MemorySegment.ofBuffer(body.nioBuffer(inlineStart + (int) e.offset, (int) e.length));
                } else {
                    value = held.slice(e.buffer, e.offset, e.length);
                }
                parts[i] = new MemorySegment[] {NamedBlock.header(arena, e.name, e.length), value};
                names[i] = new String(e.name, StandardCharsets.UTF_8);
            }
            PutOptions options = session.putOptions();
            PutOptions unpinned = new PutOptions(options.replicas(), false, 0, options.preferredSegment());
            byte[] stored;
            try {
                stored = store.put(keys, parts, unpinned, names);
            } catch (LengthConflictException conflict) {
                stored = null; // a key there with another length refuses the whole call: one by one
            }
            List<BlockKey> ours = new ArrayList<>(n);
            long written = 0;
            for (int i = 0; i < n; i++) {
                results[i] = stored != null && stored[i] == DirectStoreClient.STORED ? DirectStoreClient.STORED
                        : putOne(keys[i], parts[i], entries.get(i).name, names[i], unpinned);
                if (results[i] != OTHER_KEY) {
                    ours.add(keys[i]);
                }
                if (results[i] == DirectStoreClient.STORED) {
                    written += parts[i][1].byteSize();
                }
            }
            store.pin(ours.toArray(BlockKey[]::new), options);
            metrics.bytesIn(written);
        }
        out.writeIntLE(n).writeBytes(results);
    }

    /** The answer for one key whose block key was taken (or refused the batch): stored, there, or another key's. */
    private byte putOne(BlockKey key, MemorySegment[] parts, byte[] name, String text, PutOptions options) {
        for (int attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
            long there;
            try {
                there = valueLength(key, name);
            } catch (KeyNotFoundException gone) {
                there = MISSING;
            } catch (StoreException unreadable) {
                // No copy could be read (its node died and is not dropped yet): the read reported
                // its segments, and the master drops a dead node's blocks; put it again.
                there = MISSING;
            }
            if (there == MISMATCH) {
                return OTHER_KEY; // counted by valueLength
            }
            if (there >= 0) {
                return DirectStoreClient.EXISTED; // this key's value, of this length or another: a put keeps it
            }
            try {
                if (store.put(new BlockKey[] {key}, new MemorySegment[][] {parts}, options,
                        new String[] {text})[0] == DirectStoreClient.STORED) {
                    return DirectStoreClient.STORED;
                }
            } catch (LengthConflictException conflict) {
                // there with another length since: look again
            }
        }
        return DirectStoreClient.EXISTED; // taken and never readable: another writer's put of it in progress
    }

    /**
     * GET_NAMED: reads each block into its destination, compares its string key and answers
     * per key the value's length (the value lies {@link NamedBlock#headerLength} bytes into the
     * destination; inline, the answer carries the value itself), {@link SidecarProtocol#MISSING},
     * {@link SidecarProtocol#MISMATCH} (the destination is zeroed: never another key's
     * bytes) or {@link SidecarProtocol#TOO_LONG} (nothing read).
     */
    void get(ByteBuf body, ByteBuf out) {
        List<Entry> entries = entries(body);
        SidecarOps.end(body);
        int n = entries.size();
        BlockKey[] keys = new BlockKey[n];
        long[] answers = new long[n];
        Arena arena = Arena.ofAuto(); // headers and inline values: small, freed by the GC (closing a shared arena is slow)
        try (ClientSession.Held held = new ClientSession.Held(session)) {
            MemorySegment[] dest = new MemorySegment[n];
            long inline = 0;
            for (int i = 0; i < n; i++) {
                Entry e = entries.get(i);
                keys[i] = e.key;
                if (e.buffer != INLINE) {
                    dest[i] = held.slice(e.buffer, e.offset, e.length);
                } else if (e.length < 0 || (inline += e.length) > maxFrameBytes) {
                    throw new SidecarException(OUT_OF_RANGE, "the answer would carry up to " + inline + " bytes of "
                            + "values, more than a frame may (" + maxFrameBytes + " bytes): ask for fewer keys");
                }
            }
            long[] lengths = read(keys, dest, entries, arena);
            int found = 0;
            long bytes = 0;
            for (int i = 0; i < n; i++) {
                answers[i] = lengths[i] < 0 ? lengths[i] : check(dest[i], entries.get(i).name, lengths[i]);
                if (answers[i] >= 0) {
                    found++;
                    bytes += answers[i];
                }
            }
            metrics.hits(found, n - found);
            metrics.bytesOut(bytes);
            out.writeIntLE(n);
            for (long a : answers) {
                out.writeLongLE(a);
            }
            for (int i = 0; i < n; i++) {
                Entry e = entries.get(i);
                if (e.buffer == INLINE && answers[i] >= 0) {
                    int from = NamedBlock.headerLength(e.name.length);
                    out.writeBytes(dest[i].asSlice(from, answers[i]).asByteBuffer());
                }
            }
        }
    }

    /**
     * GET_NAMED on the calling thread (the event loop) when the lease cache can serve it
     * without blocking: every entry names a shared buffer, the blocks, at most
     * {@code maxBytes} in all, are cached and lie in this sidecar's own segment. Anything else
     * (an inline entry, a malformed body, a key not cached) is left to {@link #get}.
     *
     * @param read scratch of the calling thread; its capacity bounds the keys served here
     * @param held scratch of the calling thread, empty on entry and on return
     * @return true when the answer was written to {@code out}; false when nothing was (the
     *         body's reader index may have moved: the caller resets it)
     */
    boolean getCached(ByteBuf body, ByteBuf out, DirectStoreClient.CachedRead read, ClientSession.Held held,
                      long maxBytes) {
        if (body.readableBytes() < 4) {
            return false;
        }
        long n = body.getUnsignedIntLE(body.readerIndex());
        if (n == 0 || n > read.capacity() || n * NAMED_ENTRY > body.readableBytes() - 4) {
            return false;
        }
        List<Entry> entries;
        try {
            entries = entries(body);
            if (body.isReadable()) {
                return false;
            }
            for (int i = 0; i < n; i++) {
                Entry e = entries.get(i);
                if (e.buffer == INLINE) {
                    return false;
                }
                read.keys[i] = e.key;
                read.destinations[i] = held.slice(e.buffer, e.offset, e.length);
            }
            read.count((int) n);
            if (!store.readCached(read, maxBytes)) {
                return false;
            }
            int found = 0;
            long bytes = 0;
            out.writeIntLE((int) n);
            for (int i = 0; i < n; i++) {
                long answer = read.lengths[i] < 0 ? read.lengths[i]
                        : check(read.destinations[i], entries.get(i).name, read.lengths[i]);
                out.writeLongLE(answer);
                if (answer >= 0) {
                    found++;
                    bytes += answer;
                }
            }
            metrics.hits(found, (int) n - found);
            metrics.bytesOut(bytes);
            return true;
        } catch (SidecarException e) {
            return false; // the full path answers it with its status
        } finally {
            held.close();
            java.util.Arrays.fill(read.destinations, 0, (int) n, null);
        }
    }

    /**
     * Reads the blocks: through the lease cache when it holds them all, else with leases; an
     * inline entry gets memory of {@code arena} of its block's length. Per key the block's
     * length, MISSING, or TOO_LONG (its destination is too small: nothing read).
     */
    private long[] read(BlockKey[] keys, MemorySegment[] dest, List<Entry> entries, Arena arena) {
        int n = keys.length;
        boolean anyInline = false;
        for (MemorySegment d : dest) {
            anyInline |= d == null;
        }
        if (!anyInline && n > 0) {
            DirectStoreClient.CachedRead cached = new DirectStoreClient.CachedRead(n);
            System.arraycopy(keys, 0, cached.keys, 0, n);
            System.arraycopy(dest, 0, cached.destinations, 0, n);
            cached.count(n);
            if (store.readCached(cached, Long.MAX_VALUE)) {
                return java.util.Arrays.copyOf(cached.lengths, n);
            }
        }
        boolean[] tooLong = new boolean[n];
        long[] lengths = n == 0 ? new long[0] : store.get(keys, replicas -> {
            MemorySegment[] chosen = new MemorySegment[n];
            for (int i = 0; i < n; i++) {
                var r = replicas.get(i);
                if (r == null) {
                    continue;
                }
                long capacity = dest[i] != null ? dest[i].byteSize() : entries.get(i).length
                        + NamedBlock.headerLength(entries.get(i).name.length);
                if (r.length() > capacity) {
                    tooLong[i] = true;
                } else {
                    if (dest[i] == null) {
                        dest[i] = arena.allocate(r.length());
                    }
                    chosen[i] = dest[i];
                }
            }
            return chosen;
        });
        for (int i = 0; i < n; i++) {
            if (tooLong[i]) {
                lengths[i] = TOO_LONG;
            }
        }
        return lengths;
    }

    /** The value length of a block read whole into {@code block}, or MISMATCH (the bytes are then zeroed). */
    private long check(MemorySegment block, byte[] name, long blockLength) {
        MemorySegment read = block.asSlice(0, blockLength);
        long value = NamedBlock.valueLength(read, name, blockLength);
        if (value < 0) {
            read.fill((byte) 0);
            metrics.keyMismatch();
            return MISMATCH;
        }
        return value;
    }

    /**
     * STAT_NAMED: per key the value length of its string key's block (its header is read, not
     * the value), {@link SidecarProtocol#MISSING} or {@link SidecarProtocol#MISMATCH}. With
     * flag bit 0 (an optional u8 after the names) the answer goes on, per key, with where its
     * copies lie: a u16 count (0 unless the key's block was found), then per copy the segment
     * (u16 length, UTF-8), the block's offset in it (i64), its length (i64) and its tier (u8:
     * 0 DRAM, 1 only on its node's SSD).
     */
    void stat(ByteBuf body, ByteBuf out) {
        int n = SidecarOps.count(body, STAT_ENTRY, false);
        BlockKey[] keys = new BlockKey[n];
        int[] nameBytes = new int[n];
        for (int i = 0; i < n; i++) {
            keys[i] = BlockKey.read(body);
            nameBytes[i] = body.readIntLE();
        }
        byte[][] names = new byte[n][];
        for (int i = 0; i < n; i++) {
            names[i] = name(body, keys[i], nameBytes[i]);
        }
        int flags = body.isReadable() ? body.readUnsignedByte() : 0;
        SidecarOps.end(body);
        if ((flags & ~1) != 0) {
            throw new SidecarException(MALFORMED, "STAT_NAMED: flags other than bit 0 (replicas) must be 0, got "
                    + flags);
        }
        long[] answers = new long[n];
        boolean[] present = n == 0 ? new boolean[0] : store.exists(keys);
        List<Integer> there = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            answers[i] = MISSING;
            if (present[i]) {
                there.add(i);
            }
        }
        if (!there.isEmpty() && !statTogether(keys, names, there, answers)) {
            for (int i : there) {
                try {
                    answers[i] = valueLength(keys[i], names[i]);
                } catch (KeyNotFoundException gone) {
                    answers[i] = MISSING;
                }
            }
        }
        int found = 0;
        out.writeIntLE(n);
        for (long a : answers) {
            out.writeLongLE(a);
            found += a >= 0 ? 1 : 0;
        }
        metrics.hits(found, n - found);
        if ((flags & 1) != 0) {
            writeReplicas(keys, answers, out);
        }
    }

    private void writeReplicas(BlockKey[] keys, long[] answers, ByteBuf out) {
        List<BlockKey> ours = new ArrayList<>();
        for (int i = 0; i < keys.length; i++) {
            if (answers[i] >= 0) {
                ours.add(keys[i]);
            }
        }
        List<List<dev.ferry.store.master.Replica>> where = store.replicas(ours.toArray(BlockKey[]::new));
        int j = 0;
        for (int i = 0; i < keys.length; i++) {
            List<dev.ferry.store.master.Replica> copies = answers[i] >= 0 ? where.get(j++) : List.of();
            out.writeShortLE(copies.size());
            for (var r : copies) {
                byte[] segment = r.segment().getBytes(StandardCharsets.UTF_8);
                out.writeShortLE(segment.length).writeBytes(segment).writeLongLE(r.offset()).writeLongLE(r.length())
                        .writeByte(r.needsLoad() ? 1 : 0);
            }
        }
    }

    /** Reads the headers of the present keys in one request; false when one of them is gone or short. */
    private boolean statTogether(BlockKey[] keys, byte[][] names, List<Integer> there, long[] answers) {
        Arena arena = Arena.ofAuto(); // small, freed by the GC (closing a shared arena is slow)
        BlockKey[] k = new BlockKey[there.size()];
        MemorySegment[] heads = new MemorySegment[there.size()];
        for (int j = 0; j < k.length; j++) {
            int i = there.get(j);
            k[j] = keys[i];
            heads[j] = arena.allocate(NamedBlock.headerLength(names[i].length));
        }
        try {
            store.readRanges(k, new long[k.length], heads);
        } catch (KeyNotFoundException | IllegalArgumentException e) {
            return false; // removed meanwhile, or a block shorter than a header: one by one
        }
        for (int j = 0; j < k.length; j++) {
            int i = there.get(j);
            answers[i] = NamedBlock.valueLength(heads[j], names[i], -1);
            if (answers[i] < 0) {
                answers[i] = MISMATCH;
                metrics.keyMismatch();
            }
        }
        return true;
    }

    /**
     * The value length of the string key's block, or MISMATCH (counted) when the block key
     * holds another key's value (or a block shorter than this key's header).
     *
     * @throws KeyNotFoundException when the block key is not in the store (or not committed)
     */
    private long valueLength(BlockKey key, byte[] name) {
        Arena arena = Arena.ofAuto(); // small, freed by the GC (closing a shared arena is slow)
        MemorySegment head = arena.allocate(NamedBlock.headerLength(name.length));
        try {
            store.readRanges(new BlockKey[] {key}, new long[1], new MemorySegment[] {head});
        } catch (IllegalArgumentException shorter) {
            metrics.keyMismatch();
            return MISMATCH;
        }
        long value = NamedBlock.valueLength(head, name, -1);
        if (value < 0) {
            metrics.keyMismatch();
            return MISMATCH;
        }
        return value;
    }

    /**
     * REMOVE_BY_REGEX: force u8 (0 or 1), pattern length u32, pattern (UTF-8) -> removed (i64):
     * every block whose string key matches the pattern somewhere (Java's regular expressions),
     * as {@code remove_all} does: not the leased ones, hard-pinned ones only with force.
     */
    void removeByRegex(ByteBuf body, ByteBuf out) {
        SidecarOps.need(body, 5);
        int force = body.readUnsignedByte();
        long n = body.readUnsignedIntLE();
        if (n != body.readableBytes() || force > 1) {
            throw new SidecarException(MALFORMED, "REMOVE_BY_REGEX body is force u8 (0 or 1), pattern length u32, "
                    + "pattern; got force " + force + " and a pattern of " + n + " bytes with " + body.readableBytes()
                    + " left");
        }
        String pattern = body.readCharSequence((int) n, StandardCharsets.UTF_8).toString();
        try {
            java.util.regex.Pattern.compile(pattern);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new SidecarException(OUT_OF_RANGE, "REMOVE_BY_REGEX: not a regular expression: " + e.getMessage());
        }
        try {
            out.writeLongLE(store.removeByRegex(pattern, force == 1));
        } catch (dev.ferry.store.client.StoreException e) {
            if (e.getCause() instanceof dev.ferry.store.rpc.RpcException r && r.getMessage() != null
                    && r.getMessage().contains("unknown master method")) {
                throw new SidecarException(UNKNOWN_OPCODE, "REMOVE_BY_REGEX: the master (of an earlier build) does "
                        + "not record string keys");
            }
            throw e;
        }
    }
}
