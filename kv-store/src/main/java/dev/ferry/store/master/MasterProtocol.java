package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.Wire;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.netty.buffer.ByteBuf;

/**
 * Method numbers and payload codecs of the master's RPC, protocol version {@value #VERSION}.
 * Requests and answers, field by field (types from {@link Wire}; {@code bool[]} is a count and
 * one byte per value; a {@code key} is a block key, 16 bytes, {@link BlockKey}'s form:
 * big-endian, high half first; {@code key[]} is a count (i32) and the keys):
 * <ul>
 *   <li>21 REGISTER: protocol version (i32, {@value #VERSION}), node id (string), segment
 *       descriptor, indexed (bool), ssd bytes (i64), load endpoint (string, {@code host:port}
 *       or empty), kept block count (i32) and per block key, offset (-1 for a block on SSD),
 *       length (i64) and crc (i32) -> blocks taken back (i32)</li>
 *   <li>22 HEARTBEAT: node id, acked index update (i64), demoted keys, loaded keys, SSD-gone
 *       keys (key[] each), SSD health (u8: 0 OK, 1 FULL, 2 FAILING; absent from nodes that
 *       predate it, read as OK) -> update count (i32) and per update seq (i64), kind (u8: 0 ADD,
 *       1 REMOVE, 2 DEMOTE, 3 DRAM_FREED), key, offset, length (i64), crc (i32)</li>
 *   <li>23 LOOKUP_PREFIX: keys (key[]) -> hits (i32)</li>
 *   <li>24 PUT_START: keys, block bytes (i64), replicas (i32), preferred segment (string,
 *       empty for none) -> count, then per placement: key, exists (bool), segment
 *       (string), offset (i64), length (i64)</li>
 *   <li>25 PUT_COMMIT: keys, crcs (int[]), the put's epoch (i64: that of the PUT_START answer;
 *       absent from older clients) -> empty, once the nodes holding the blocks have them in
 *       their indexes (at most {@link Master#INDEX_ACK_TIMEOUT_MILLIS} later); STALE_PUT when
 *       the put's epoch is not the master's (a former leader started it: nothing is
 *       published); CONFLICT when a key is not being written (its put reclaimed). After the
 *       epoch, a store node's own process (a sidecar) may add its node id (string) and the
 *       newest index update it applied (i64): the answer is then that node's pending updates
 *       (as INDEX_POLL's), to apply before telling the writer, and only the other holding
 *       nodes are waited for ({@link Master#putCommit(BlockKey[], int[], long, String, long)})</li>
 *   <li>26 PUT_ABORT: keys -> empty</li>
 *   <li>27 GET: keys, ttl ms (i64) -> lease id, ttl, count, then per key a replica count
 *       (i32, 0 when missing) and per replica segment, offset, length, crc (i32), load
 *       endpoint (string: empty when the bytes are in the segment, else the node to ask to
 *       load the block from SSD first)</li>
 *   <li>8 RELEASE: lease id -> still valid (bool)</li>
 *   <li>9 SEGMENT: name -> found (bool), descriptor</li>
 *   <li>10 STATS: empty -> the {@link MasterStats} fields in order</li>
 *   <li>11 SUSPECT: segment name -> gone (bool): a client could not reach the segment; the
 *       master probes its node and, when it is unreachable too, declares it dead at once</li>
 *   <li>32 EXISTS: keys -> bool[]</li>
 *   <li>33 REMOVE: keys -> count, then per key one byte: 0 removed, 1 not found, 2 leased (kept)</li>
 *   <li>34 PIN: keys, hard (bool), ttl ms (i64) -> pinned (i32)</li>
 *   <li>35 UNPIN: keys -> empty</li>
 *   <li>16 RENEW: lease id, ttl ms -> still valid (bool)</li>
 *   <li>37 DROP_CORRUPT: key, segment (string), offset (i64), crc (i32) -> dropped
 *       (bool): a reader or the node's scrub found the copy's bytes not matching the CRC</li>
 *   <li>38 INDEX_POLL: node id, acked index update (i64), longest wait ms (i64) -> the
 *       updates as in a HEARTBEAT answer, as soon as there is one (an empty list when the
 *       wait ran out)</li>
 *   <li>39 REMOVE_ALL: force (bool) -> removed (i64)</li>
 *   <li>42 PUT_START_NAMED: as PUT_START, followed by one string per key: the string key
 *       each new block is put under (empty for none), kept for REMOVE_BY_REGEX -> as
 *       PUT_START. A master of an earlier build answers "unknown master method 42": the client
 *       then sends PUT_START, without the names</li>
 *   <li>43 REMOVE_BY_REGEX: pattern (string, a Java regular expression), force (bool) ->
 *       removed (i64): the unleased blocks whose string key matches (hard-pinned ones with
 *       force only); REFUSED for a pattern that does not compile</li>
 *   <li>45 GPU_LOST: engine (string), keys -> how many of them are committed (i64): an engine's
 *       GPU tier lost these blocks with its previous process</li>
 *   <li>50 GPU_HELD: engine (string), full (bool), added keys, dropped keys -> the copies the
 *       master has for the engine (i64): the blocks an engine's GPU tier holds (all of them
 *       with full, else the changes since its previous report)</li>
 *   <li>51 GPU_HOLDERS: keys -> per key a count (i32) and that many engine names (strings): the
 *       engines holding each committed block in their GPU tier</li>
 *   <li>52 GPU_COPIES: empty -> count (i32), then per engine its name (string) and the blocks
 *       its GPU tier holds (i64), sorted by name</li>
 * </ul>
 * A segment descriptor is name (string), bytes (i64), endpoint count (i32) and per endpoint
 * host (string) and port (i32), host id (string), backing file (string, empty for none),
 * Aeron endpoint count (i32) and per endpoint host and port.
 *
 * <p>Versions: version 1 carried 8-byte keys under method numbers 1 to 7, 12 to 15, 17 and
 * 18. Version 2 carries 16-byte keys under new numbers (the old number plus 20), so that a
 * process of another build is told, never misread: this master answers a version-1 method
 * with REFUSED naming both versions ({@link #unknownMethod}), and a client maps a master's
 * "unknown method" answer to the same advice ({@link #checkVersion}). Methods without keys
 * kept their numbers and encodings.
 */
public final class MasterProtocol {
    /** The master protocol version this build speaks: 16-byte block keys. */
    public static final int VERSION = 2;
    public static final int REGISTER = 21;
    public static final int HEARTBEAT = 22;
    public static final int LOOKUP_PREFIX = 23;
    public static final int PUT_START = 24;
    public static final int PUT_COMMIT = 25;
    public static final int PUT_ABORT = 26;
    public static final int GET = 27;
    public static final int RELEASE = 8;
    public static final int SEGMENT = 9;
    public static final int STATS = 10;
    public static final int SUSPECT = 11;
    public static final int EXISTS = 32;
    public static final int REMOVE = 33;
    public static final int PIN = 34;
    public static final int UNPIN = 35;
    public static final int RENEW = 16;
    public static final int DROP_CORRUPT = 37;
    public static final int INDEX_POLL = 38;
    /** Removes every unleased block (with force, hard-pinned ones too); see {@link Master#removeAll}. */
    public static final int REMOVE_ALL = 39;
    /** PUT_START with the string key of each block (for REMOVE_BY_REGEX); see {@link Master#putStart(BlockKey[], long, int, String, String[])}. */
    public static final int PUT_START_NAMED = 42;
    /** Removes the unleased blocks whose string key matches a pattern; see {@link Master#removeByRegex}. */
    public static final int REMOVE_BY_REGEX = 43;
    public static final int GPU_LOST = 45;
    /** An engine's report of the blocks its GPU tier holds; see {@link Master#gpuHeld}. */
    public static final int GPU_HELD = 50;
    /** The engines holding blocks in their GPU tier; see {@link Master#gpuHolders}. */
    public static final int GPU_HOLDERS = 51;
    /** GPU copies per engine; see {@link Master#gpuCopiesPerEngine}. */
    public static final int GPU_COPIES = 52;
    /** A range of a store node's own segment granted ahead of its puts; see {@link Master#grant}. */
    public static final int GRANT = 53;
    /** Blocks a node wrote in its granted ranges, committed in one call; see {@link Master#putGranted}. */
    public static final int PUT_GRANTED = 54;
    /** Granted ranges given back; see {@link Master#returnGranted}. */
    public static final int RETURN_GRANTED = 55;
    /** Longest wait of one INDEX_POLL, ms. */
    public static final long MAX_POLL_MILLIS = 10_000;
    /** Bytes of one block record (key, offset, length, crc). */
    static final int BLOCK_BYTES = BlockKey.BYTES + 20;
    /** Start of the message a master gives for a method it does not know. */
    private static final String UNKNOWN_METHOD = "unknown master method ";
    /** The method numbers of version 1 that carried 8-byte keys. */
    private static final java.util.Set<Integer> VERSION_1_KEYED = java.util.Set.of(1, 2, 3, 4, 5, 6, 7, 12, 13, 14,
            15, 17, 18);

    private MasterProtocol() {
    }

    /**
     * The refusal of a method this master does not know; a method of master protocol
     * version 1 (8-byte keys) is named as such, with what to do.
     */
    static RpcException unknownMethod(int method) {
        if (VERSION_1_KEYED.contains(method)) {
            return new RpcException(RpcException.REFUSED, "master protocol version mismatch: method " + method
                    + " is a version 1 call (8-byte block keys); this master speaks version " + VERSION
                    + " (16-byte block keys): run every Ferry process (master, store nodes, sidecars, clients)"
                    + " from one build");
        }
        return new RpcException(RpcException.REFUSED, UNKNOWN_METHOD + method);
    }

    /**
     * Refuses a REGISTER of another protocol version.
     *
     * @throws RpcException REFUSED naming both versions
     */
    static void requireVersion(int version) {
        if (version != VERSION) {
            throw new RpcException(RpcException.REFUSED, "master protocol version mismatch: the node speaks version "
                    + version + ", this master version " + VERSION + ": run every Ferry process from one build");
        }
    }

    /**
     * Rethrows a master's "unknown method" refusal of a call of this version as a version
     * mismatch (the master is of an older build); any other error is left alone.
     *
     * @throws RpcException REFUSED naming the master and both versions
     */
    /** Whether {@code e} is a master's answer that it does not know {@code method} (a master of an earlier build). */
    static boolean unknown(RpcException e, int method) {
        return e.status() == RpcException.REFUSED && e.getMessage() != null
                && e.getMessage().contains(UNKNOWN_METHOD + method);
    }

    static void checkVersion(RpcException e, String master) {
        if (e.status() == RpcException.REFUSED && e.getMessage() != null && e.getMessage().contains(UNKNOWN_METHOD)) {
            throw new RpcException(RpcException.REFUSED, "master protocol version mismatch: the master at " + master
                    + " does not know this build's calls (" + e.getMessage() + "); this process speaks version "
                    + VERSION + " (16-byte block keys): run every Ferry process from one build", e);
        }
    }

    static void writeDescriptor(ByteBuf buf, SegmentDescriptor d) {
        Wire.writeString(buf, d.name());
        buf.writeLong(d.bytes());
        buf.writeInt(d.endpoints().size());
        for (Endpoint e : d.endpoints()) {
            Wire.writeString(buf, e.host());
            buf.writeInt(e.port());
        }
        Wire.writeString(buf, d.hostId());
        Wire.writeString(buf, d.file());
        buf.writeInt(d.aeronEndpoints().size());
        for (Endpoint e : d.aeronEndpoints()) {
            Wire.writeString(buf, e.host());
            buf.writeInt(e.port());
        }
        Wire.writeString(buf, d.aeronIpc() == null ? "" : d.aeronIpc().driver());
        buf.writeInt(d.aeronIpc() == null ? 0 : d.aeronIpc().streamId());
    }

    /** Writes a heartbeat's report (after the node id). */
    static void writeReport(ByteBuf buf, NodeReport r) {
        buf.writeLong(r.ackedSeq());
        Wire.writeKeys(buf, r.demoted());
        Wire.writeKeys(buf, r.loaded());
        Wire.writeKeys(buf, r.ssdGone());
        buf.writeByte(r.ssd().code());
    }

    /**
     * Reads a heartbeat's report; a report without the SSD health byte (a node from before it)
     * reads as {@link SsdHealth#OK}.
     *
     * @throws RpcException MALFORMED when it is cut short or names an unknown SSD health
     */
    static NodeReport readReport(ByteBuf buf) {
        long acked = Wire.readLong(buf);
        BlockKey[] demoted = Wire.readKeys(buf);
        BlockKey[] loaded = Wire.readKeys(buf);
        BlockKey[] gone = Wire.readKeys(buf);
        SsdHealth ssd = SsdHealth.OK;
        if (buf.isReadable()) {
            try {
                ssd = SsdHealth.ofCode(Wire.readByte(buf));
            } catch (IllegalArgumentException e) {
                throw new RpcException(RpcException.MALFORMED, e.getMessage());
            }
        }
        return new NodeReport(acked, demoted, loaded, gone, ssd);
    }

    static void writeBlock(ByteBuf buf, IndexedBlock b) {
        b.key().write(buf).writeLong(b.offset()).writeLong(b.length()).writeInt(b.crc32c());
    }

    static void writeUpdates(ByteBuf out, java.util.List<IndexUpdate> updates) {
        out.writeInt(updates.size());
        for (IndexUpdate u : updates) {
            out.writeLong(u.seq()).writeByte(u.kind().ordinal());
            writeBlock(out, u.block());
        }
    }

    static java.util.List<IndexUpdate> readUpdates(ByteBuf b) {
        int n = Wire.readCount(b, 9 + BLOCK_BYTES);
        IndexUpdate.Kind[] kinds = IndexUpdate.Kind.values();
        java.util.List<IndexUpdate> out = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long seq = Wire.readLong(b);
            int kind = Wire.readByte(b);
            if (kind >= kinds.length) {
                throw new dev.ferry.store.rpc.RpcException(dev.ferry.store.rpc.RpcException.MALFORMED,
                        "unknown index update kind " + kind);
            }
            out.add(new IndexUpdate(seq, kinds[kind], readBlock(b)));
        }
        return out;
    }

    static IndexedBlock readBlock(ByteBuf buf) {
        return new IndexedBlock(Wire.readKey(buf), Wire.readLong(buf), Wire.readLong(buf), Wire.readInt(buf));
    }

    static SegmentDescriptor readDescriptor(ByteBuf buf) {
        String name = Wire.readString(buf);
        long bytes = Wire.readLong(buf);
        int count = Wire.readCount(buf, 6);
        try {
            java.util.List<Endpoint> endpoints = new java.util.ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                endpoints.add(new Endpoint(Wire.readString(buf), Wire.readInt(buf)));
            }
            String hostId = Wire.readString(buf);
            String file = Wire.readString(buf);
            int aeronCount = Wire.readCount(buf, 6);
            java.util.List<Endpoint> aeron = new java.util.ArrayList<>(aeronCount);
            for (int i = 0; i < aeronCount; i++) {
                aeron.add(new Endpoint(Wire.readString(buf), Wire.readInt(buf)));
            }
            String ipcDriver = Wire.readString(buf);
            int ipcStream = Wire.readInt(buf);
            return new SegmentDescriptor(name, bytes, endpoints, hostId, file, aeron,
                    ipcDriver.isEmpty() ? null : new dev.ferry.transfer.segment.AeronIpc(ipcDriver, ipcStream));
        } catch (IllegalArgumentException e) {
            throw new dev.ferry.store.rpc.RpcException(dev.ferry.store.rpc.RpcException.MALFORMED, e.getMessage());
        }
    }
}
