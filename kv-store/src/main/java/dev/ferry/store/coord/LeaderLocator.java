package dev.ferry.store.coord;

import java.time.Duration;
import java.util.Optional;

/**
 * Finds the master to call now: the fixed one, or the leader that etcd names for a cluster
 * (the value and create revision of its leader key, {@link LeaderElection}).
 *
 * <p>Thread-safe. Owns an etcd client for an etcd address: close it.
 */
public final class LeaderLocator implements AutoCloseable {
    /**
     * A master to call.
     *
     * @param host  its host
     * @param port  its RPC port
     * @param epoch its epoch as etcd says (0 for a fixed master)
     * @param lease the etcd lease its leadership is bound to (0 for a fixed master)
     */
    public record Leader(String host, int port, long epoch, long lease) {
        /** {@code host:port}. */
        public String address() {
            return host + ":" + port;
        }
    }

    private final MasterAddress address;
    private final EtcdClient etcd;

    /**
     * @param requestTimeout longest wait for one etcd request
     */
    public LeaderLocator(MasterAddress address, Duration requestTimeout) {
        this(address, requestTimeout, dev.ferry.transfer.tls.PortSecurity.process());
    }

    /**
     * @param requestTimeout longest wait for one etcd request
     * @param security       for an {@code etcd+https://} address: the client certificate shown to
     *                       etcd and the CA its certificate must chain to
     * @throws IllegalArgumentException for an {@code etcd+https://} address without TLS
     */
    public LeaderLocator(MasterAddress address, Duration requestTimeout, dev.ferry.transfer.tls.PortSecurity security) {
        this.address = address;
        this.etcd = address.viaEtcd() ? new EtcdClient(address.etcd(), requestTimeout, security) : null;
    }

    /** Whether the master can change (an etcd address). */
    public boolean follows() {
        return etcd != null;
    }

    /** The address this locator was given. */
    public MasterAddress address() {
        return address;
    }

    /**
     * @return the master to call now; empty while etcd names no leader
     * @throws EtcdException when etcd cannot be reached
     * @throws IllegalStateException when the leader key holds no {@code host:port}
     */
    public Optional<Leader> find() {
        if (etcd == null) {
            return Optional.of(new Leader(address.host(), address.port(), 0, 0));
        }
        Optional<KeyValue> kv = etcd.get(LeaderElection.leaderKey(address.clusterId()));
        if (kv.isEmpty()) {
            return Optional.empty();
        }
        String value = kv.get().value();
        int colon = value.lastIndexOf(':');
        try {
            return Optional.of(new Leader(value.substring(0, colon), Integer.parseInt(value.substring(colon + 1)),
                    kv.get().createRevision(), kv.get().lease()));
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            throw new IllegalStateException("the leader key of cluster " + address.clusterId() + " holds '" + value
                    + "', not host:port");
        }
    }

    /**
     * The TTL the leader's lease was granted with: how long the cluster may be without a
     * leader after this one dies.
     *
     * @return the TTL, s; 0 for a fixed master, or when the lease is gone
     * @throws EtcdException when etcd cannot be reached
     */
    public long leaseTtlSeconds(Leader leader) {
        return etcd == null || leader.lease() == 0 ? 0 : etcd.grantedTtl(leader.lease());
    }

    @Override
    public void close() {
        if (etcd != null) {
            etcd.close();
        }
    }
}
