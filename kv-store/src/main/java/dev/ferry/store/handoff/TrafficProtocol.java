package dev.ferry.store.handoff;

import dev.ferry.store.rpc.Wire;
import dev.ferry.transfer.metrics.LinkTraffic;
import dev.ferry.transfer.metrics.MappingPopulation;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * How prefill and decode nodes tell a driver (the cluster replay) what their transfer engine
 * carried. Method {@value #TRAFFIC} on either node's RPC port, with no arguments; answer: a
 * count (i32), then per link its transport (string), name (string), bytes (i64) and slices
 * (i64), as {@link LinkTraffic}; then, in the same order, each link's failures (i64), which a
 * reader of an older node's answer (that ends before them) takes as 0. Method
 * {@value #MAPPINGS}, with no arguments, answers how far the node's engine has populated its
 * mappings of store nodes' slabs: bytes (i64) and milliseconds (f64), as
 * {@link MappingPopulation}. Stateless; thread-safe.
 */
public final class TrafficProtocol {
    /** The method number, the same on prefill and decode nodes (their own methods start at 1). */
    public static final int TRAFFIC = 100;
    /** The method number of the mappings' population, on prefill and decode nodes. */
    public static final int MAPPINGS = 101;

    private TrafficProtocol() {
    }

    public static void write(ByteBuf b, List<LinkTraffic> links) {
        b.writeInt(links.size());
        for (LinkTraffic l : links) {
            Wire.writeString(b, l.transport());
            Wire.writeString(b, l.link());
            b.writeLong(l.bytes()).writeLong(l.slices());
        }
        for (LinkTraffic l : links) {
            b.writeLong(l.failures());
        }
    }

    /** @throws dev.ferry.store.rpc.RpcException when the answer is short or its count is out of range */
    public static List<LinkTraffic> read(ByteBuf b) {
        int n = Wire.readInt(b);
        if (n < 0 || n > Wire.MAX_ARRAY) {
            throw new dev.ferry.store.rpc.RpcException(dev.ferry.store.rpc.RpcException.REFUSED,
                    "traffic answer with " + n + " links");
        }
        List<LinkTraffic> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(new LinkTraffic(Wire.readString(b), Wire.readString(b), Wire.readLong(b), Wire.readLong(b)));
        }
        if (b.readableBytes() >= 8L * n) {
            for (int i = 0; i < n; i++) {
                LinkTraffic l = out.get(i);
                out.set(i, new LinkTraffic(l.transport(), l.link(), l.bytes(), l.slices(), b.readLong()));
            }
        }
        return out;
    }

    public static void write(ByteBuf b, MappingPopulation population) {
        b.writeLong(population.bytes()).writeDouble(population.millis());
    }

    /** @throws dev.ferry.store.rpc.RpcException when the answer is short or its figures are negative */
    public static MappingPopulation readMappings(ByteBuf b) {
        long bytes = Wire.readLong(b);
        if (b.readableBytes() < Double.BYTES) {
            throw new dev.ferry.store.rpc.RpcException(dev.ferry.store.rpc.RpcException.REFUSED,
                    "mappings answer of " + (8 + b.readableBytes()) + " bytes, 16 expected");
        }
        double millis = b.readDouble();
        try {
            return new MappingPopulation(bytes, millis);
        } catch (IllegalArgumentException e) {
            throw new dev.ferry.store.rpc.RpcException(dev.ferry.store.rpc.RpcException.REFUSED,
                    "mappings answer: " + e.getMessage());
        }
    }
}
