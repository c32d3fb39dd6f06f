package dev.ferry.store.master;

import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.Wire;
import dev.ferry.store.tier.SsdHealth;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.netty.buffer.ByteBuf;

/**
 * Method numbers and payload codecs of the master's RPC. Requests and answers, field by
 * field (types from {@link Wire}; {@code bool[]} is a count and one byte per value):
 * <ul>
 *   <li>1 REGISTER: node id (string), segment descriptor, indexed (bool), ssd (bool), load
 *       endpoint (string, {@code host:port} or empty), kept block count (i32) and per block
 *       key, offset (-1 for a block on SSD), length (i64) and crc (i32) -> blocks taken back (i32)</li>
 *   <li>2 HEARTBEAT: node id, acked index update (i64), demoted keys, loaded keys, SSD-gone
 *       keys (long[] each), SSD health (u8: 0 OK, 1 FULL, 2 FAILING; absent from nodes that
 *       predate it, read as OK) -> update count (i32) and per update seq (i64), kind (u8: 0 ADD,
 *       1 REMOVE, 2 DEMOTE, 3 DRAM_FREED), key, offset, length (i64), crc (i32)</li>
 *   <li>3 LOOKUP_PREFIX: keys (long[]) -> hits (i32)</li>
 *   <li>4 PUT_START: keys, block bytes (i64), replicas (i32), preferred segment (string,
 *       empty for none) -> count, then per placement: key (i64), exists (bool), segment
 *       (string), offset (i64), length (i64)</li>
 *   <li>5 PUT_COMMIT: keys, crcs (int[]), the put's epoch (i64: that of the PUT_START answer;
 *       absent from older clients) -> empty, once the nodes holding the blocks have them in
 *       their indexes (at most {@link Master#INDEX_ACK_TIMEOUT_MILLIS} later); STALE_PUT when
 *       the put's epoch is not the master's (a former leader started it: nothing is
 *       published); CONFLICT when a key is not being written (its put reclaimed)</li>
 *   <li>6 PUT_ABORT: keys -> empty</li>
 *   <li>7 GET: keys, ttl ms (i64) -> lease id, ttl, count, then per key a replica count
 *       (i32, 0 when missing) and per replica segment, offset, length, crc (i32), load
 *       endpoint (string: empty when the bytes are in the segment, else the node to ask to
 *       load the block from SSD first)</li>
 *   <li>8 RELEASE: lease id -> still valid (bool)</li>
 *   <li>9 SEGMENT: name -> found (bool), descriptor</li>
 *   <li>10 STATS: empty -> the {@link MasterStats} fields in order</li>
 *   <li>11 SUSPECT: segment name -> gone (bool): a client could not reach the segment; the
 *       master probes its node and, when it is unreachable too, declares it dead at once</li>
 *   <li>12 EXISTS: keys -> bool[]</li>
 *   <li>13 REMOVE: keys -> count, then per key one byte: 0 removed, 1 not found, 2 leased (kept)</li>
 *   <li>14 PIN: keys, hard (bool), ttl ms (i64) -> pinned (i32)</li>
 *   <li>15 UNPIN: keys -> empty</li>
 *   <li>16 RENEW: lease id, ttl ms -> still valid (bool)</li>
 *   <li>17 DROP_CORRUPT: key (i64), segment (string), offset (i64), crc (i32) -> dropped
 *       (bool): a reader or the node's scrub found the copy's bytes not matching the CRC</li>
 *   <li>18 INDEX_POLL: node id, acked index update (i64), longest wait ms (i64) -> the
 *       updates as in a HEARTBEAT answer, as soon as there is one (an empty list when the
 *       wait ran out)</li>
 * </ul>
 * A segment descriptor is name (string), bytes (i64), endpoint count (i32) and per endpoint
 * host (string) and port (i32), host id (string), backing file (string, empty for none),
 * Aeron endpoint count (i32) and per endpoint host and port.
 */
public final class MasterProtocol {
    public static final int REGISTER = 1;
    public static final int HEARTBEAT = 2;
    public static final int LOOKUP_PREFIX = 3;
    public static final int PUT_START = 4;
    public static final int PUT_COMMIT = 5;
    public static final int PUT_ABORT = 6;
    public static final int GET = 7;
    public static final int RELEASE = 8;
    public static final int SEGMENT = 9;
    public static final int STATS = 10;
    public static final int SUSPECT = 11;
    public static final int EXISTS = 12;
    public static final int REMOVE = 13;
    public static final int PIN = 14;
    public static final int UNPIN = 15;
    public static final int RENEW = 16;
    public static final int DROP_CORRUPT = 17;
    public static final int INDEX_POLL = 18;
    /** Longest wait of one INDEX_POLL, ms. */
    public static final long MAX_POLL_MILLIS = 10_000;

    private MasterProtocol() {
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
        Wire.writeLongs(buf, r.demoted());
        Wire.writeLongs(buf, r.loaded());
        Wire.writeLongs(buf, r.ssdGone());
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
        long[] demoted = Wire.readLongs(buf);
        long[] loaded = Wire.readLongs(buf);
        long[] gone = Wire.readLongs(buf);
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
        buf.writeLong(b.key()).writeLong(b.offset()).writeLong(b.length()).writeInt(b.crc32c());
    }

    static void writeUpdates(ByteBuf out, java.util.List<IndexUpdate> updates) {
        out.writeInt(updates.size());
        for (IndexUpdate u : updates) {
            out.writeLong(u.seq()).writeByte(u.kind().ordinal());
            writeBlock(out, u.block());
        }
    }

    static java.util.List<IndexUpdate> readUpdates(ByteBuf b) {
        int n = Wire.readCount(b, 37);
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
        return new IndexedBlock(Wire.readLong(buf), Wire.readLong(buf), Wire.readLong(buf), Wire.readInt(buf));
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
