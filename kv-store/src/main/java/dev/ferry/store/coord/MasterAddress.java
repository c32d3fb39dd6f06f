package dev.ferry.store.coord;

import java.net.URI;
import java.util.List;

/**
 * Where a process finds the master, as given with {@code --master}: a fixed {@code host:port},
 * or the leader of a cluster of masters in etcd, {@code etcd://h1:2379,h2:2379/ID}. Mooncake's
 * form, {@code etcd://h1:2379;h2:2379} with the cluster id given apart ({@code --cluster-id}),
 * is accepted too; {@code etcd+https://h1:2379/ID} reaches etcd over TLS (with the process's
 * {@code --tls-dir}). Immutable.
 */
public final class MasterAddress {
    private static final String SCHEME = "etcd://";
    /** etcd's client URLs over TLS ({@code https://}). */
    private static final String TLS_SCHEME = "etcd+https://";

    private final String host;
    private final int port;
    private final List<URI> etcd;
    private final String clusterId;

    private MasterAddress(String host, int port, List<URI> etcd, String clusterId) {
        this.host = host;
        this.port = port;
        this.etcd = etcd;
        this.clusterId = clusterId;
    }

    /** A fixed master. */
    public static MasterAddress of(String host, int port) {
        if (host == null || host.isEmpty() || port < 1 || port > 65535) {
            throw new IllegalArgumentException("expected host:port, got '" + host + ":" + port + "'");
        }
        return new MasterAddress(host, port, List.of(), null);
    }

    /** {@link #parse(String, String)} with no separate cluster id. */
    public static MasterAddress parse(String text) {
        return parse(text, null);
    }

    /**
     * @param text      {@code host:port}, {@code etcd://h1:2379,h2:2379/ID} or {@code etcd://h1:2379;h2:2379}
     * @param clusterId the cluster id for an etcd address without one (may be null otherwise)
     * @throws IllegalArgumentException naming what is wrong: a bad address, an etcd address
     *                                  without a cluster id, or two different ids
     */
    public static MasterAddress parse(String text, String clusterId) {
        if (text == null) {
            throw new IllegalArgumentException("no master address given");
        }
        boolean tls = text.startsWith(TLS_SCHEME);
        if (!text.startsWith(SCHEME) && !tls) {
            if (clusterId != null) {
                throw new IllegalArgumentException("--cluster-id '" + clusterId + "' needs an etcd:// master address, "
                        + "not '" + text + "'");
            }
            int colon = text.lastIndexOf(':');
            try {
                if (colon < 1) {
                    throw new NumberFormatException();
                }
                return of(text.substring(0, colon), Integer.parseInt(text.substring(colon + 1)));
            } catch (NumberFormatException | IndexOutOfBoundsException e) {
                throw new IllegalArgumentException("expected host:port or etcd://HOST:PORT[,HOST:PORT...]/CLUSTER-ID, "
                        + "got '" + text + "'");
            }
        }
        String rest = text.substring(tls ? TLS_SCHEME.length() : SCHEME.length());
        int slash = rest.indexOf('/');
        String hosts = slash < 0 ? rest : rest.substring(0, slash);
        String id = slash < 0 || slash == rest.length() - 1 ? null : rest.substring(slash + 1);
        if (id != null && clusterId != null && !id.equals(clusterId)) {
            throw new IllegalArgumentException("master address '" + text + "' names cluster '" + id
                    + "' but --cluster-id says '" + clusterId + "'");
        }
        String cluster = id != null ? id : clusterId;
        if (cluster == null) {
            throw new IllegalArgumentException("master address '" + text + "' names no cluster: write "
                    + SCHEME + hosts + "/CLUSTER-ID or give --cluster-id");
        }
        LeaderElection.leaderKey(cluster); // checks the id
        return new MasterAddress(null, 0, EtcdClient.endpoints(hosts, tls ? "https" : "http"), cluster);
    }

    /** Whether the master is the leader found in etcd. */
    public boolean viaEtcd() {
        return !etcd.isEmpty();
    }

    /** The fixed master's host (null for an etcd address). */
    public String host() {
        return host;
    }

    /** The fixed master's port (0 for an etcd address). */
    public int port() {
        return port;
    }

    /** The etcd endpoints (empty for a fixed master). */
    public List<URI> etcd() {
        return etcd;
    }

    /** The cluster id in etcd (null for a fixed master). */
    public String clusterId() {
        return clusterId;
    }

    @Override
    public String toString() {
        if (!viaEtcd()) {
            return host + ":" + port;
        }
        StringBuilder b = new StringBuilder("https".equals(etcd.getFirst().getScheme()) ? TLS_SCHEME : SCHEME);
        for (int i = 0; i < etcd.size(); i++) {
            b.append(i == 0 ? "" : ",").append(etcd.get(i).getHost()).append(':').append(etcd.get(i).getPort());
        }
        return b.append('/').append(clusterId).toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MasterAddress m && toString().equals(m.toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }
}
