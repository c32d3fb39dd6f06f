package dev.ferry.store.master;

import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.Wire;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.segment.SegmentResolver;
import dev.ferry.transfer.slice.TransferException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Typed calls to a remote master ({@link MasterProtocol}). Also resolves segments for the
 * transfer engine, caching descriptors until {@link #forgetSegment} is called.
 *
 * <p>Thread-safe. Owns a connection: close it.
 */
public final class MasterClient implements MasterApi, SegmentResolver, AutoCloseable {
    private final RpcClient rpc;
    private final Map<String, SegmentDescriptor> segments = new ConcurrentHashMap<>();

    /** @param timeoutMillis longest wait for an answer, ms */
    public MasterClient(String host, int port, long timeoutMillis) {
        this.rpc = new RpcClient(host, port, timeoutMillis);
    }

    /** Registers a plain node: no local index, no SSD tier. */
    public void register(String nodeId, SegmentDescriptor segment) {
        register(nodeId, segment, NodeFeatures.NONE, List.of());
    }

    /** @see Master#registerNode(String, SegmentDescriptor, NodeFeatures, List) */
    public int register(String nodeId, SegmentDescriptor segment, NodeFeatures features, List<IndexedBlock> kept) {
        return rpc.call(MasterProtocol.REGISTER, b -> {
            Wire.writeString(b, nodeId);
            MasterProtocol.writeDescriptor(b, segment);
            b.writeBoolean(features.indexed()).writeLong(features.ssdBytes());
            Wire.writeString(b, features.loadEndpoint());
            b.writeInt(kept.size());
            kept.forEach(k -> MasterProtocol.writeBlock(b, k));
        }, Wire::readInt);
    }

    public void heartbeat(String nodeId) {
        heartbeat(nodeId, NodeReport.ack(0));
    }

    /** @see Master#heartbeat(String, NodeReport) */
    public List<IndexUpdate> heartbeat(String nodeId, NodeReport report) {
        return rpc.call(MasterProtocol.HEARTBEAT, b -> {
            Wire.writeString(b, nodeId);
            MasterProtocol.writeReport(b, report);
        }, b -> {
            int n = Wire.readCount(b, 37);
            IndexUpdate.Kind[] kinds = IndexUpdate.Kind.values();
            List<IndexUpdate> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long seq = Wire.readLong(b);
                int kind = Wire.readByte(b);
                if (kind >= kinds.length) {
                    throw new RpcException(RpcException.MALFORMED, "unknown index update kind " + kind);
                }
                out.add(new IndexUpdate(seq, kinds[kind], MasterProtocol.readBlock(b)));
            }
            return out;
        });
    }

    /** @see Master#lookupPrefix */
    @Override
    public int lookupPrefix(long[] keys) {
        return rpc.call(MasterProtocol.LOOKUP_PREFIX, b -> Wire.writeLongs(b, keys), Wire::readInt);
    }

    /** @see Master#exists */
    @Override
    public boolean[] exists(long[] keys) {
        return rpc.call(MasterProtocol.EXISTS, b -> Wire.writeLongs(b, keys), Wire::readBooleans);
    }

    /** @see Master#pin */
    public int pin(long[] keys, boolean hard, long ttlMillis) {
        return rpc.call(MasterProtocol.PIN, b -> {
            Wire.writeLongs(b, keys);
            b.writeBoolean(hard);
            b.writeLong(ttlMillis);
        }, Wire::readInt);
    }

    /** @see Master#unpin */
    public void unpin(long[] keys) {
        rpc.call(MasterProtocol.UNPIN, b -> Wire.writeLongs(b, keys), b -> null);
    }

    /** One replica, no preferred segment. */
    public List<Placement> putStart(long[] keys, long blockBytes) {
        return putStart(keys, blockBytes, 1, null);
    }

    /**
     * Allocates, as {@link Master#putStart(long[], long, int, String)} does, waiting out the
     * master's write stall ({@link WriteStall}).
     *
     * @throws RpcException NO_SPACE when there is no room; BUSY when the stall outlasted
     *                      {@link WriteStall#LIMIT_NANOS}
     */
    @Override
    public List<Placement> putStart(long[] keys, long blockBytes, int replicas, String preferredSegment) {
        return WriteStall.retry(() -> putStartOnce(keys, blockBytes, replicas, preferredSegment));
    }

    private List<Placement> putStartOnce(long[] keys, long blockBytes, int replicas, String preferredSegment) {
        return rpc.call(MasterProtocol.PUT_START, b -> {
            Wire.writeLongs(b, keys);
            b.writeLong(blockBytes);
            b.writeInt(replicas);
            Wire.writeString(b, preferredSegment == null ? "" : preferredSegment);
        }, b -> {
            int n = Wire.readCount(b, 1);
            List<Placement> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long key = Wire.readLong(b);
                boolean exists = Wire.readBoolean(b);
                String segment = Wire.readString(b);
                out.add(new Placement(key, exists ? null : segment, Wire.readLong(b), Wire.readLong(b)));
            }
            return out;
        });
    }

    @Override
    public void putCommit(long[] keys, int[] crcs) {
        rpc.call(MasterProtocol.PUT_COMMIT, b -> {
            Wire.writeLongs(b, keys);
            Wire.writeInts(b, crcs);
        }, b -> null);
    }

    @Override
    public void putAbort(long[] keys) {
        rpc.call(MasterProtocol.PUT_ABORT, b -> Wire.writeLongs(b, keys), b -> null);
    }

    /** @see Master#get */
    @Override
    public Lease get(long[] keys, long ttlMillis) {
        return rpc.call(MasterProtocol.GET, b -> {
            Wire.writeLongs(b, keys);
            b.writeLong(ttlMillis);
        }, b -> {
            long id = Wire.readLong(b);
            long ttl = Wire.readLong(b);
            int n = Wire.readCount(b, 4);
            List<List<Replica>> replicas = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int copies = Wire.readCount(b, 1);
                List<Replica> list = new ArrayList<>(copies);
                for (int c = 0; c < copies; c++) {
                    String segment = Wire.readString(b);
                    long offset = Wire.readLong(b);
                    long length = Wire.readLong(b);
                    int crc = Wire.readInt(b);
                    String load = Wire.readString(b);
                    list.add(new Replica(keys[i], segment, offset, length, crc, load.isEmpty() ? null : load));
                }
                replicas.add(list);
            }
            return new Lease(id, ttl, replicas);
        });
    }

    /**
     * Releases a lease without waiting: for a reader that knows it cannot have expired (much
     * less than its TTL has passed since it was asked for). If the release is lost, the
     * lease simply runs out.
     */
    @Override
    public void releaseLater(long leaseId) {
        try {
            rpc.send(MasterProtocol.RELEASE, b -> b.writeLong(leaseId));
        } catch (RpcException ignored) {
            // the lease runs out on its own
        }
    }

    /** @see Master#renew */
    public boolean renew(long leaseId, long ttlMillis) {
        return rpc.call(MasterProtocol.RENEW, b -> {
            b.writeLong(leaseId);
            b.writeLong(ttlMillis);
        }, Wire::readBoolean);
    }

    /** @see Master#release */
    @Override
    public boolean release(long leaseId) {
        return rpc.call(MasterProtocol.RELEASE, b -> b.writeLong(leaseId), Wire::readBoolean);
    }

    /**
     * Reports that {@code segment} could not be reached; the master probes its node.
     *
     * @return whether the segment is gone (its node declared dead, or already unknown)
     */
    @Override
    public boolean suspect(String segment) {
        forgetSegment(segment);
        return rpc.call(MasterProtocol.SUSPECT, b -> Wire.writeString(b, segment), Wire::readBoolean);
    }

    /** @see Master#dropCorrupt */
    @Override
    public boolean dropCorrupt(long key, String segment, long offset, int crc32c) {
        return rpc.call(MasterProtocol.DROP_CORRUPT, b -> {
            b.writeLong(key);
            Wire.writeString(b, segment);
            b.writeLong(offset).writeInt(crc32c);
        }, Wire::readBoolean);
    }

    /** @see Master#remove */
    @Override
    public byte[] remove(long[] keys) {
        return rpc.call(MasterProtocol.REMOVE, b -> Wire.writeLongs(b, keys), b -> {
            byte[] out = new byte[Wire.readCount(b, 1)];
            b.readBytes(out);
            return out;
        });
    }

    public MasterStats stats() {
        return rpc.call(MasterProtocol.STATS, b -> { }, b -> new MasterStats(Wire.readInt(b), Wire.readLong(b),
                Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readInt(b),
                Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b),
                Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b)));
    }

    @Override
    public SegmentDescriptor resolve(String name) {
        SegmentDescriptor cached = segments.get(name);
        if (cached != null) {
            return cached;
        }
        SegmentDescriptor d;
        try {
            d = rpc.call(MasterProtocol.SEGMENT, b -> Wire.writeString(b, name),
                    b -> Wire.readBoolean(b) ? MasterProtocol.readDescriptor(b) : null);
        } catch (RpcException e) {
            throw new TransferException("cannot resolve segment '" + name + "': " + e.getMessage(), false, e);
        }
        if (d == null) {
            throw new TransferException("unknown segment '" + name + "'", false);
        }
        segments.put(name, d);
        return d;
    }

    /** Drops a cached descriptor (its node restarted or died). */
    public void forgetSegment(String name) {
        segments.remove(name);
    }

    @Override
    public void invalidate(String name) {
        forgetSegment(name);
    }

    @Override
    public void close() {
        rpc.close();
    }
}
