package dev.ferry.store.server;

import dev.ferry.store.coord.LocalEtcd;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.testing.OpenResources;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A test bed of masters elected in a real etcd on loopback (cluster id {@code c1}): starts
 * the etcd, makes masters and owns what a test opens, and closes it all, newest first, then
 * the etcd. Not thread-safe: one test thread.
 */
final class EtcdMasters implements AutoCloseable {
    private final LocalEtcd etcd;
    private final Duration ttl;
    private final OpenResources open = new OpenResources();

    private EtcdMasters(LocalEtcd etcd, Duration ttl) {
        this.etcd = etcd;
        this.ttl = ttl;
    }

    /** Starts an etcd with its data under {@code dir}; masters take leases of {@code ttl}. */
    static EtcdMasters start(Path dir, Duration ttl) throws IOException {
        return new EtcdMasters(LocalEtcd.start(dir), ttl);
    }

    LocalEtcd etcd() {
        return etcd;
    }

    /** Closes {@code resource} with the bed. */
    <T extends AutoCloseable> T own(T resource) {
        return open.own(resource);
    }

    /** A master on a free loopback port, campaigning in the bed's etcd. */
    ElectedMaster master() {
        return own(new ElectedMaster("127.0.0.1", 0, "127.0.0.1", new LruPolicy(), 60_000, List.of(etcd.uri()), "c1",
                ttl));
    }

    /** The address that follows the leader: {@code etcd://HOST:PORT/c1}. */
    MasterAddress viaEtcd() {
        return MasterAddress.parse("etcd://" + etcd.address() + "/c1");
    }

    @Override
    public void close() throws Exception {
        try {
            open.close();
        } finally {
            etcd.close();
        }
    }
}
