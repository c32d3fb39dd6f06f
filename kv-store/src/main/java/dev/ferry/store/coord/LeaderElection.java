package dev.ferry.store.coord;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One candidate's campaign for the leadership of a cluster, in etcd: the leader is whoever
 * created the key {@code /ferry/<cluster id>/leader} (a transaction that creates it only when
 * absent), bound to the candidate's lease and holding its address. The leader's <b>epoch</b>
 * is the key's create revision: unique, and higher for every later leader of the cluster.
 *
 * <p>The leader keeps its lease alive (a keep-alive every third of the TTL) and checks that
 * the key is still its own. It is leader only while it knows its lease holds: from the send
 * of the last keep-alive that etcd answered, one TTL (etcd counts its TTL from a later
 * instant, so the lease outlives that). {@link #epoch()} turns 0 the moment that time runs
 * out, even while a keep-alive is still in flight, and when etcd says the lease or the key
 * is gone; the candidate then campaigns again. A standby watches the key and campaigns as
 * soon as it is deleted (its holder's lease revoked or expired), re-reading it at least
 * once per TTL.
 *
 * <p>The listener is called on the campaign thread: {@link Listener#elected} before
 * {@link #epoch()} says leader, {@link Listener#deposed} after it stopped saying so.
 *
 * <p>Thread-safe. Owns a thread: close it (a leader then revokes its lease, so a standby
 * takes over at once).
 */
public final class LeaderElection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaderElection.class);
    private static final long RETRY_MILLIS = 200;

    /** What a candidate is told. */
    public interface Listener {
        /** This candidate won; it is not yet answering as leader. @param epoch its epoch, > 0 */
        void elected(long epoch);

        /** This candidate stopped being leader (it no longer answers as one). */
        void deposed(long epoch, String why);
    }

    private record Term(long epoch, long validUntilNanos) {
    }

    private final EtcdClient etcd;
    private final String key;
    private final String address;
    private final long ttlSeconds;
    private final long ttlNanos;
    private final Listener listener;
    private final Thread thread;
    private final AtomicLong terms = new AtomicLong();
    private volatile Term term;
    private volatile String leaderSeen = "";
    private volatile long lease;
    private volatile boolean closed;

    /**
     * @param etcd      the etcd client (its request timeout should be below a third of {@code ttl})
     * @param clusterId the cluster's name: candidates of one cluster share it
     * @param address   what the leader publishes: its RPC address, {@code host:port}
     * @param ttl       the lease's time to live, whole seconds, at least 1
     * @param listener  told of elections and depositions
     */
    public LeaderElection(EtcdClient etcd, String clusterId, String address, Duration ttl, Listener listener) {
        if (ttl.toSeconds() < 1) {
            throw new IllegalArgumentException("lease TTL must be at least 1 s, not " + ttl);
        }
        this.etcd = etcd;
        this.key = leaderKey(clusterId);
        this.address = address;
        this.ttlSeconds = ttl.toSeconds();
        this.ttlNanos = TimeUnit.SECONDS.toNanos(ttlSeconds);
        this.listener = listener;
        this.thread = new Thread(this::campaign, "ferry-election");
        this.thread.setDaemon(true);
    }

    /** The key of a cluster's leader. */
    public static String leaderKey(String clusterId) {
        if (clusterId == null || clusterId.isBlank() || clusterId.contains("/")) {
            throw new IllegalArgumentException("cluster id must be a non-empty name without '/', not '" + clusterId + "'");
        }
        return "/ferry/" + clusterId + "/leader";
    }

    /** Starts campaigning. */
    public LeaderElection start() {
        thread.start();
        return this;
    }

    /** This candidate's epoch while it is leader and knows its lease holds; 0 otherwise. */
    public long epoch() {
        Term t = term;
        return t != null && System.nanoTime() - t.validUntilNanos < 0 ? t.epoch : 0;
    }

    /** The address of the leader this candidate last saw (itself when leading), or "" when none. */
    public String leaderSeen() {
        return leaderSeen;
    }

    /** Terms this candidate has won since start. */
    public long terms() {
        return terms.get();
    }

    private void campaign() {
        while (!closed) {
            try {
                EtcdClient.Read read = etcd.read(key);
                Optional<KeyValue> held = read.kv();
                if (held.isPresent()) {
                    leaderSeen = held.get().value();
                    etcd.awaitDeletion(key, read.revision() + 1, Duration.ofNanos(ttlNanos));
                    continue;
                }
                long granted = System.nanoTime();
                long myLease = etcd.grantLease(ttlSeconds);
                // Held from now: a close while the creation is in flight revokes it, so a key
                // created anyway does not outlive this candidate.
                lease = myLease;
                EtcdClient.Creation creation = etcd.createIfAbsent(key, address, myLease);
                if (!creation.created()) {
                    creation.existing().ifPresent(kv -> leaderSeen = kv.value());
                    lease = 0;
                    revokeQuietly(myLease);
                    continue;
                }
                lead(creation.revision(), granted, myLease);
            } catch (EtcdException e) {
                if (!closed) {
                    LOG.debug("election of {}: {}", key, e.getMessage());
                    pause(RETRY_MILLIS);
                }
            }
        }
    }

    /** Holds the leadership until the lease is lost or the candidate closes. */
    private void lead(long epoch, long grantedNanos, long myLease) {
        listener.elected(epoch);
        long validUntil = grantedNanos + ttlNanos;
        term = new Term(epoch, validUntil);
        leaderSeen = address;
        terms.incrementAndGet();
        LOG.info("leader of {} at {} with epoch {} (lease TTL {} s)", key, address, epoch, ttlSeconds);
        long interval = ttlNanos / 3;
        String why = "closed";
        while (!closed) {
            long sleepNanos = validUntil - ttlNanos + interval - System.nanoTime();
            pause(Math.max(TimeUnit.NANOSECONDS.toMillis(sleepNanos), RETRY_MILLIS / 4));
            if (closed) {
                break;
            }
            long sent = System.nanoTime();
            try {
                if (etcd.keepAlive(myLease) <= 0) {
                    why = "etcd says the lease is gone";
                    break;
                }
                Optional<KeyValue> held = etcd.get(key);
                if (held.isEmpty() || held.get().createRevision() != epoch) {
                    why = "the leader key is gone or no longer this candidate's";
                    break;
                }
                validUntil = sent + ttlNanos;
                term = new Term(epoch, validUntil);
            } catch (EtcdException e) {
                if (System.nanoTime() - validUntil >= 0) {
                    why = "no keep-alive reached etcd for " + ttlSeconds + " s (" + e.getMessage() + ")";
                    break;
                }
            }
        }
        term = null;
        leaderSeen = "";
        if (!closed) {
            LOG.warn("deposed as leader of {} (epoch {}): {}", key, epoch, why);
            revokeQuietly(myLease);
            lease = 0;
        }
        listener.deposed(epoch, why);
    }

    private void revokeQuietly(long id) {
        try {
            etcd.revoke(id);
        } catch (EtcdException ignored) {
            // it expires on its own
        }
    }

    private void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            // close() interrupts; the loops check closed
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        term = null;
        long held = lease;
        if (held != 0) {
            revokeQuietly(held); // hands over at once; a no-op for a lease already gone
        }
    }
}
