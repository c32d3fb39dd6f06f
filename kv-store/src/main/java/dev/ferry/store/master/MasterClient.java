package dev.ferry.store.master;

import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.Wire;
import dev.ferry.transfer.TransferException;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.segment.SegmentResolver;
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
public final class MasterClient implements SegmentResolver, AutoCloseable {
    private final RpcClient rpc;
    private final Map<String, SegmentDescriptor> segments = new ConcurrentHashMap<>();

    /** @param timeoutMillis longest wait for an answer, ms */
    public MasterClient(String host, int port, long timeoutMillis) {
        this.rpc = new RpcClient(host, port, timeoutMillis);
    }

    public void register(String nodeId, SegmentDescriptor segment) {
        rpc.call(MasterProtocol.REGISTER, b -> {
            Wire.writeString(b, nodeId);
            MasterProtocol.writeDescriptor(b, segment);
        }, b -> null);
    }

    public void heartbeat(String nodeId) {
        rpc.call(MasterProtocol.HEARTBEAT, b -> Wire.writeString(b, nodeId), b -> null);
    }

    /** @see Master#lookupPrefix */
    public int lookupPrefix(long[] keys) {
        return rpc.call(MasterProtocol.LOOKUP_PREFIX, b -> Wire.writeLongs(b, keys), Wire::readInt);
    }

    /** @see Master#putStart */
    public List<Placement> putStart(long[] keys, long blockBytes) {
        return rpc.call(MasterProtocol.PUT_START, b -> {
            Wire.writeLongs(b, keys);
            b.writeLong(blockBytes);
        }, b -> {
            int n = Wire.readCount(b, 1);
            List<Placement> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                boolean exists = Wire.readBoolean(b);
                String segment = Wire.readString(b);
                out.add(new Placement(keys[i], exists ? null : segment, Wire.readLong(b), Wire.readLong(b)));
            }
            return out;
        });
    }

    public void putCommit(long[] keys, int[] crcs) {
        rpc.call(MasterProtocol.PUT_COMMIT, b -> {
            Wire.writeLongs(b, keys);
            Wire.writeInts(b, crcs);
        }, b -> null);
    }

    public void putAbort(long[] keys) {
        rpc.call(MasterProtocol.PUT_ABORT, b -> Wire.writeLongs(b, keys), b -> null);
    }

    /** @see Master#get */
    public Lease get(long[] keys, long ttlMillis) {
        return rpc.call(MasterProtocol.GET, b -> {
            Wire.writeLongs(b, keys);
            b.writeLong(ttlMillis);
        }, b -> {
            long id = Wire.readLong(b);
            long ttl = Wire.readLong(b);
            int n = Wire.readCount(b, 1);
            List<Replica> replicas = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                replicas.add(Wire.readBoolean(b)
                        ? new Replica(keys[i], Wire.readString(b), Wire.readLong(b), Wire.readLong(b), Wire.readInt(b))
                        : null);
            }
            return new Lease(id, ttl, replicas);
        });
    }

    /** @see Master#release */
    public boolean release(long leaseId) {
        return rpc.call(MasterProtocol.RELEASE, b -> b.writeLong(leaseId), Wire::readBoolean);
    }

    /**
     * Reports that {@code segment} could not be reached; the master probes its node.
     *
     * @return whether the segment is gone (its node declared dead, or already unknown)
     */
    public boolean suspect(String segment) {
        forgetSegment(segment);
        return rpc.call(MasterProtocol.SUSPECT, b -> Wire.writeString(b, segment), Wire::readBoolean);
    }

    /** @see Master#remove */
    public byte[] remove(long[] keys) {
        return rpc.call(MasterProtocol.REMOVE, b -> Wire.writeLongs(b, keys), b -> {
            byte[] out = new byte[Wire.readCount(b, 1)];
            b.readBytes(out);
            return out;
        });
    }

    public MasterStats stats() {
        return rpc.call(MasterProtocol.STATS, b -> { }, b -> new MasterStats(Wire.readInt(b), Wire.readLong(b),
                Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readLong(b), Wire.readInt(b)));
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
