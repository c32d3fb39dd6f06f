package dev.ferry.store.server;

import dev.ferry.store.coord.EtcdClient;
import dev.ferry.store.coord.LeaderElection;
import dev.ferry.store.eviction.EvictionPolicy;
import dev.ferry.store.master.MasterRole;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.rpc.RpcException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A master that is one of several candidates of a cluster in etcd ({@code ferry master
 * --etcd}): its RPC server listens from the start, but answers only while it is the leader
 * ({@link LeaderElection}), stamping each answer with its epoch; a standby, or a leader whose
 * lease may have run out, refuses every call with {@link RpcException#NOT_LEADER}. Each term
 * starts from an empty directory ({@link MasterService#resetState}): store nodes register
 * again with the blocks they hold, as after a master restart.
 *
 * <p>Thread-safe. Owns the service, the etcd client and the campaign thread: close it (a
 * leader then hands over at once by revoking its lease).
 */
public final class ElectedMaster implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ElectedMaster.class);

    private final EtcdClient etcd;
    private final MasterService service;
    private final LeaderElection election;
    private final String address;
    private final String clusterId;
    private final AtomicLong terms = new AtomicLong();

    /**
     * Binds the RPC port and starts campaigning.
     *
     * @param host              address to bind
     * @param port              port, 0 for a free one
     * @param advertiseHost     the host that clients reach this master at (published in etcd)
     * @param policy            eviction policy
     * @param nodeTimeoutMillis a node silent this long is dead, ms
     * @param etcdEndpoints     the etcd members' client URLs
     * @param clusterId         the cluster's name in etcd
     * @param leaseTtl          the leader lease's TTL, whole seconds
     * @throws IllegalStateException when the port cannot be bound
     */
    public ElectedMaster(String host, int port, String advertiseHost, EvictionPolicy policy, long nodeTimeoutMillis,
                         List<URI> etcdEndpoints, String clusterId, Duration leaseTtl) {
        LeaderElection.leaderKey(clusterId); // checks the id before anything is opened
        this.clusterId = clusterId;
        // A keep-alive must be able to fail and be retried within one TTL.
        this.etcd = new EtcdClient(etcdEndpoints, Duration.ofMillis(Math.clamp(leaseTtl.toMillis() / 3, 250, 2_000)));
        LeaderElection[] holder = new LeaderElection[1];
        MasterService s = null;
        try {
            s = new MasterService(host, port, policy, nodeTimeoutMillis, () -> epoch(holder[0]));
            this.service = s;
            this.address = advertiseHost + ":" + s.port();
            this.election = new LeaderElection(etcd, clusterId, address, leaseTtl, new LeaderElection.Listener() {
                @Override
                public void elected(long epoch) {
                    service.resetState(epoch);
                    terms.incrementAndGet();
                    LOG.info("master {} leads cluster {} with epoch {}", address, clusterId, epoch);
                }

                @Override
                public void deposed(long epoch, String why) {
                    LOG.warn("master {} no longer leads cluster {} (epoch {}): {}", address, clusterId, epoch, why);
                }
            });
            holder[0] = election;
        } catch (RuntimeException | Error e) {
            if (s != null) {
                s.close();
            }
            etcd.close();
            throw e;
        }
        election.start();
    }

    private long epoch(LeaderElection e) {
        long epoch = e == null ? 0 : e.epoch();
        if (epoch == 0) {
            String leader = e == null ? "" : e.leaderSeen();
            throw new RpcException(RpcException.NOT_LEADER, "master " + address + " is not the leader of cluster "
                    + clusterId + (leader.isEmpty() || leader.equals(address) ? "" : "; the leader is at " + leader));
        }
        return epoch;
    }

    /** The epoch while this master leads, else 0. */
    public long epoch() {
        return election.epoch();
    }

    /** Whether this master leads now. */
    public boolean leading() {
        return election.epoch() != 0;
    }

    /**
     * This master's role for its metrics and {@code /ready}: leading or not, the epoch while
     * leading (0 as a standby), and the terms it has led since it started.
     */
    public MasterRole role() {
        long epoch = election.epoch();
        return new MasterRole(epoch != 0, epoch, terms.get());
    }

    /** The address published when leading, {@code host:port}. */
    public String address() {
        return address;
    }

    /** The RPC port. */
    public int port() {
        return service.port();
    }

    /** The service (its state is the current term's). */
    public MasterService service() {
        return service;
    }

    @Override
    public void close() {
        try {
            election.close();
        } finally {
            service.close();
            etcd.close();
        }
    }
}
