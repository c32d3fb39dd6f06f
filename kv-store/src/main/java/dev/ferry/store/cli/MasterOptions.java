package dev.ferry.store.cli;

import picocli.CommandLine.Option;

/**
 * How a process reaches the master (a picocli mixin of the store node, the sidecar and the
 * prefill and decode nodes): {@code --master HOST:PORT} (or {@code etcd://...}), {@code --cluster-id}
 * and {@code --master-reconnect-ms}.
 * Not thread-safe; read once at start.
 */
public final class MasterOptions {
    @Option(names = "--master", paramLabel = "ADDRESS", description = "Master RPC address, HOST:PORT, or the leader "
            + "of a cluster of masters in etcd, etcd://HOST:PORT[,HOST:PORT...]/CLUSTER-ID (store-node: required; "
            + "sidecar: default an embedded master; prefill, decode: this or --sidecar).")
    String address;

    @Option(names = "--cluster-id", paramLabel = "ID", description = "The masters' cluster id in etcd, for an "
            + "etcd:// --master address that names none (Mooncake's etcd://h1:2379;h2:2379).")
    String clusterId;

    @Option(names = "--master-reconnect-ms", paramLabel = "MS", description = "How long a call to the master keeps "
            + "trying to reach a master that went away (a restart), or the new leader after a failover, ms (default "
            + "5000 for a HOST:PORT master; for an etcd:// one, twice the leader's lease TTL plus 5000: 15000 with "
            + "a 5 s TTL).")
    Long reconnectMillis;

    /** @return the masters' cluster id in etcd as given apart from the address, or null */
    public String clusterId() {
        return clusterId;
    }

    /** @return the master's address as given (host:port or etcd://...), or null when none was given */
    public String address() {
        return address;
    }

    /**
     * @return how long a call keeps trying to reach a master that went away, ms; when not
     *         given, {@link dev.ferry.store.master.MasterClient#FOLLOW_LEASE_TTL} (the client
     *         picks it from the address and the leader's lease)
     */
    public long reconnectMillis() {
        return reconnectMillis != null ? reconnectMillis : dev.ferry.store.master.MasterClient.FOLLOW_LEASE_TTL;
    }
}
