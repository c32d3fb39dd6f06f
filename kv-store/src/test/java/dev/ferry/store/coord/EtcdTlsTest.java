package dev.ferry.store.coord;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.transfer.tls.ClusterCa;
import dev.ferry.transfer.tls.PortSecurity;
import dev.ferry.transfer.tls.TlsConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The coord package's client against a real etcd serving https with client certificate
 * authentication ({@code --cert-file --key-file --trusted-ca-file --client-cert-auth}), all
 * certificates from {@link ClusterCa}: a client of the cluster CA reads and writes; one of
 * another CA, or without TLS, is refused.
 */
class EtcdTlsTest {
    @TempDir
    static Path dir;
    private static LocalEtcd etcd;
    private static PortSecurity member;
    private static PortSecurity stranger;

    @BeforeAll
    static void start() throws Exception {
        ClusterCa ca = ClusterCa.create("test-cluster-ca");
        Path server = ca.issue(dir.resolve("etcd"), "etcd", List.of("127.0.0.1"));
        member = PortSecurity.tls(TlsConfig.fromDir(ca.issue(dir.resolve("master"), "master", List.of())));
        stranger = PortSecurity.tls(TlsConfig.fromDir(ClusterCa.create("another-ca").issue(dir.resolve("stranger"),
                "master", List.of())));
        etcd = LocalEtcd.startTls(dir, server);
    }

    @AfterAll
    static void stop() {
        if (etcd != null) {
            etcd.close();
        }
    }

    @Test
    void aClientOfTheClusterCaReadsAndWritesOverHttps() {
        MasterAddress address = MasterAddress.parse("etcd+https://" + etcd.address() + "/ferry");
        assertThat(address.etcd()).containsExactly(etcd.uri());
        assertThat(address.toString()).isEqualTo("etcd+https://" + etcd.address() + "/ferry");
        try (EtcdClient client = new EtcdClient(address.etcd(), Duration.ofSeconds(2), member)) {
            client.put("/ferry/tls", "yes", 0);
            assertThat(client.get("/ferry/tls")).map(KeyValue::value).contains("yes");
        }
    }

    @Test
    void aClientOfAnotherCaOrWithoutTlsIsRefused() {
        try (EtcdClient impostor = new EtcdClient(List.of(etcd.uri()), Duration.ofSeconds(2), stranger)) {
            assertThatThrownBy(() -> impostor.put("/ferry/tls", "no", 0)).isInstanceOf(EtcdException.class);
        }
        assertThatThrownBy(() -> new EtcdClient(List.of(etcd.uri()), Duration.ofSeconds(2), PortSecurity.loopbackOnly()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--tls-dir");
        try (EtcdClient plain = new EtcdClient(List.of(java.net.URI.create("http://" + etcd.address())),
                Duration.ofSeconds(2), PortSecurity.loopbackOnly())) {
            assertThatThrownBy(() -> plain.put("/ferry/tls", "no", 0)).isInstanceOf(EtcdException.class);
        }
    }
}
