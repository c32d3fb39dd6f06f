package dev.ferry.store.coord;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.testing.OpenResources;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Candidates campaigning in a real etcd on loopback. */
class LeaderElectionTest {
    private static final Duration TTL = Duration.ofSeconds(2);

    @TempDir
    Path dir;
    private LocalEtcd etcd;
    private final OpenResources open = new OpenResources();

    @BeforeEach
    void startEtcd() throws Exception {
        etcd = LocalEtcd.start(dir);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            open.close();
        } finally {
            etcd.close();
        }
    }

    private final class Candidate implements LeaderElection.Listener {
        final List<String> events = new CopyOnWriteArrayList<>();
        final LeaderElection election;

        Candidate(String address) {
            EtcdClient client = new EtcdClient(List.of(etcd.uri()), Duration.ofMillis(500));
            open.own(client);
            election = new LeaderElection(client, "c1", address, TTL, this);
            open.own(election);
        }

        @Override
        public void elected(long epoch) {
            // Called before epoch() says leader: a master resets its state here.
            assertThat(election.epoch()).isZero();
            events.add("elected " + epoch);
        }

        @Override
        public void deposed(long epoch, String why) {
            assertThat(election.epoch()).isZero();
            events.add("deposed " + epoch + ": " + why);
        }
    }

    private static List<Candidate> leaders(List<Candidate> all) {
        return all.stream().filter(c -> c.election.epoch() != 0).toList();
    }

    @Test
    void oneCandidateLeadsAndAStandbyTakesOverWithAHigherEpochWhenTheLeaderGoes() throws Exception {
        List<Candidate> all = List.of(new Candidate("m1:1"), new Candidate("m2:2"), new Candidate("m3:3"));
        all.forEach(c -> c.election.start());
        await().atMost(Duration.ofSeconds(10)).until(() -> leaders(all).size() == 1);
        Candidate first = leaders(all).getFirst();
        long firstEpoch = first.election.epoch();
        try (EtcdClient reader = new EtcdClient(List.of(etcd.uri()), Duration.ofSeconds(2))) {
            KeyValue key = reader.get(LeaderElection.leaderKey("c1")).orElseThrow();
            assertThat(key.createRevision()).isEqualTo(firstEpoch);
            assertThat(all).allSatisfy(c -> assertThat(c.election.leaderSeen()).isEqualTo(key.value()));
        }
        first.election.close(); // revokes its lease: a standby takes over without waiting for the TTL
        List<Candidate> rest = all.stream().filter(c -> c != first).toList();
        await().atMost(TTL.plusSeconds(3)).until(() -> leaders(rest).size() == 1);
        long secondEpoch = leaders(rest).getFirst().election.epoch();
        assertThat(secondEpoch).isGreaterThan(firstEpoch);
        assertThat(first.events).containsExactly("elected " + firstEpoch, "deposed " + firstEpoch + ": closed");
        assertThat(leaders(all)).hasSize(1);
    }

    @Test
    void aLeaderThatCannotReachEtcdStopsLeadingWithinTheTtlAndOneLeadsAgainWhenEtcdIsBack() throws Exception {
        List<Candidate> all = List.of(new Candidate("m1:1"), new Candidate("m2:2"));
        all.forEach(c -> c.election.start());
        await().atMost(Duration.ofSeconds(10)).until(() -> leaders(all).size() == 1);
        Candidate leader = leaders(all).getFirst();
        long epoch = leader.election.epoch();
        long stopped = System.nanoTime();
        etcd.stop();
        await().atMost(TTL.plusMillis(500)).until(() -> leaders(all).isEmpty());
        assertThat(Duration.ofNanos(System.nanoTime() - stopped)).isLessThanOrEqualTo(TTL.plusMillis(500));
        await().atMost(Duration.ofSeconds(5)).until(() -> leader.events.size() == 2);
        assertThat(leader.events.get(1)).startsWith("deposed " + epoch + ": no keep-alive reached etcd");
        etcd.start();
        // The old key lives until its lease runs out (etcd restarts its leases' clocks).
        await().atMost(Duration.ofSeconds(20)).until(() -> leaders(all).size() == 1);
        assertThat(leaders(all).getFirst().election.epoch()).isGreaterThan(epoch);
    }

    @Test
    void aLeaderWhoseKeyIsDeletedStepsDownAndTheNextTermHasAHigherEpoch() throws Exception {
        Candidate only = new Candidate("m1:1");
        only.election.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> only.election.epoch() != 0);
        long epoch = only.election.epoch();
        try (EtcdClient admin = new EtcdClient(List.of(etcd.uri()), Duration.ofSeconds(2))) {
            admin.delete(LeaderElection.leaderKey("c1"));
        }
        await().atMost(TTL.plusSeconds(3)).until(() -> only.events.size() >= 3);
        assertThat(only.events.get(1)).startsWith("deposed " + epoch + ": the leader key is gone");
        await().atMost(Duration.ofSeconds(5)).until(() -> only.election.epoch() > epoch);
        assertThat(only.election.terms()).isEqualTo(2);
    }
}
