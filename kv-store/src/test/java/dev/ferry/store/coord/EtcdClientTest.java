package dev.ferry.store.coord;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSON-gateway client against a real etcd on loopback. */
class EtcdClientTest {
    @TempDir
    static Path dir;
    static LocalEtcd etcd;

    @BeforeAll
    static void startEtcd() throws Exception {
        etcd = LocalEtcd.start(dir);
    }

    @AfterAll
    static void stopEtcd() throws Exception {
        etcd.close();
    }

    private static EtcdClient client() {
        return new EtcdClient(List.of(etcd.uri()), Duration.ofSeconds(2));
    }

    @Test
    void createIfAbsentCreatesOnceAndReadsTheWinnerAfter() {
        try (EtcdClient c = client()) {
            long lease = c.grantLease(10);
            EtcdClient.Creation first = c.createIfAbsent("/t/create", "a:1", lease);
            EtcdClient.Creation second = c.createIfAbsent("/t/create", "b:2", lease);
            assertThat(first.created()).isTrue();
            assertThat(second.created()).isFalse();
            KeyValue held = second.existing().orElseThrow();
            assertThat(held.value()).isEqualTo("a:1");
            assertThat(held.createRevision()).isEqualTo(first.revision());
            assertThat(held.lease()).isEqualTo(lease);
            assertThat(c.get("/t/create")).contains(held);
            assertThat(c.get("/t/absent")).isEmpty();
        }
    }

    @Test
    void aRevokedLeaseDeletesItsKeysAndKeepAliveSaysItIsGone() {
        try (EtcdClient c = client()) {
            long lease = c.grantLease(10);
            c.put("/t/leased", "v", lease);
            assertThat(c.keepAlive(lease)).isBetween(1L, 10L);
            c.revoke(lease);
            assertThat(c.get("/t/leased")).isEmpty();
            assertThat(c.keepAlive(lease)).isZero();
            assertThatThrownBy(() -> c.createIfAbsent("/t/leased", "v", lease)).isInstanceOf(EtcdException.class)
                    .hasMessageContaining("lease");
        }
    }

    @Test
    void aWatchReturnsWhenTheKeyIsDeletedAndAfterItsWaitOtherwise() {
        try (EtcdClient c = client()) {
            c.put("/t/watched", "v", 0);
            EtcdClient.Read read = c.read("/t/watched");
            assertThat(c.awaitDeletion("/t/watched", read.revision() + 1, Duration.ofMillis(300))).isFalse();
            CompletableFuture<Boolean> deleted = CompletableFuture.supplyAsync(
                    () -> c.awaitDeletion("/t/watched", read.revision() + 1, Duration.ofSeconds(30)));
            c.delete("/t/watched");
            assertThat(deleted.join()).isTrue();
            // A deletion before the watch started is seen too (the watch starts at a revision).
            assertThat(c.awaitDeletion("/t/watched", read.revision() + 1, Duration.ofSeconds(30))).isTrue();
        }
    }

    @Test
    void anUnreachableEndpointIsSkippedAndNoneReachableIsAClearError() throws Exception {
        URI dead = URI.create("http://127.0.0.1:1");
        try (EtcdClient c = new EtcdClient(List.of(dead, etcd.uri()), Duration.ofSeconds(2))) {
            c.put("/t/failover", "v", 0);
            assertThat(c.get("/t/failover").orElseThrow().value()).isEqualTo("v");
        }
        try (EtcdClient c = new EtcdClient(List.of(dead), Duration.ofSeconds(2))) {
            assertThatThrownBy(() -> c.get("/t/failover")).isInstanceOf(EtcdException.class)
                    .hasMessageContaining("127.0.0.1:1").hasMessageContaining("unreachable");
        }
    }

    @Test
    void endpointListsTakeCommasSemicolonsAndSchemes() {
        assertThat(EtcdClient.endpoints("h1:2379;http://h2:2380, h3:1"))
                .containsExactly(URI.create("http://h1:2379"), URI.create("http://h2:2380"), URI.create("http://h3:1"));
        assertThatThrownBy(() -> EtcdClient.endpoints("h1")).hasMessageContaining("'h1'");
        assertThatThrownBy(() -> EtcdClient.endpoints(" ; ")).hasMessageContaining("no etcd endpoint");
    }
}
