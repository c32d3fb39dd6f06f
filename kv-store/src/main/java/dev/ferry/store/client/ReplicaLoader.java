package dev.ferry.store.client;

import dev.ferry.store.master.Replica;
import dev.ferry.store.node.HostPort;
import dev.ferry.store.node.NodeProtocol;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Promotes SSD-resident replicas before a read: asks each replica's store node
 * ({@link Replica#loadEndpoint()}) to load the block into the DRAM range the master gave it
 * ({@link NodeProtocol#LOAD}). One connection per node, opened on first use.
 *
 * <p>Thread-safe. Owns connections: close it.
 */
final class ReplicaLoader implements AutoCloseable {
    private final Map<String, RpcClient> nodes = new ConcurrentHashMap<>();

    /**
     * Loads {@code r} when it needs it; returns at once otherwise.
     *
     * @throws RpcException when the node refuses (no intact copy on SSD) or cannot be reached
     */
    void load(Replica r) {
        if (!r.needsLoad()) {
            return;
        }
        node(r.loadEndpoint()).call(NodeProtocol.LOAD, b -> {
            r.key().write(b).writeLong(r.offset()).writeLong(r.length());
            b.writeInt(r.crc32c());
        }, b -> null);
    }

    private RpcClient node(String endpoint) {
        return nodes.computeIfAbsent(endpoint, e -> {
            HostPort hp = HostPort.parse(e);
            return new RpcClient(hp.host(), hp.port(), 30_000);
        });
    }

    @Override
    public void close() {
        nodes.values().forEach(RpcClient::close);
        nodes.clear();
    }
}
