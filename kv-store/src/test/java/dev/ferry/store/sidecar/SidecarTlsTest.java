package dev.ferry.store.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.transfer.tls.ClusterCa;
import dev.ferry.transfer.tls.PortSecurity;
import dev.ferry.transfer.tls.TlsConfig;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sidecar's TCP port over mutual TLS, with real sockets: a client with a certificate of
 * the cluster CA stores and reads blocks; a plain client, or one with a certificate of another
 * CA, gets nothing and changes nothing, and the port keeps serving; the Unix socket stays plain.
 */
class SidecarTlsTest {
    @TempDir
    static Path dir;
    private static TlsConfig client;
    private static TlsConfig stranger;
    private static SidecarFixture fx;
    private static final java.util.concurrent.atomic.AtomicLong KEYS = new java.util.concurrent.atomic.AtomicLong(40);

    @BeforeAll
    static void start() {
        ClusterCa ca = ClusterCa.create("test-cluster-ca");
        TlsConfig server = TlsConfig.fromDir(ca.issue(dir.resolve("sidecar"), "sidecar", List.of()));
        client = TlsConfig.fromDir(ca.issue(dir.resolve("engine"), "engine", List.of()));
        stranger = TlsConfig.fromDir(ClusterCa.create("another-ca").issue(dir.resolve("stranger"), "engine",
                List.of()));
        fx = new SidecarFixture(c -> c.tcp("127.0.0.1", 0).security(PortSecurity.tls(server)));
    }

    @AfterAll
    static void stop() throws Exception {
        fx.close();
    }

    @Test
    void aClientOfTheClusterCaPutsAndGetsOverTls() {
        BlockKey key = BlockKey.of(KEYS.incrementAndGet());
        byte[] block = "forty-one".repeat(1000).getBytes();
        try (SidecarClient c = SidecarClient.connectTls("127.0.0.1", fx.sidecar.tcpPort(), null, client)) {
            assertThat(c.putInline(new BlockKey[] {key}, new byte[][] {block})).containsExactly(0);
            assertThat(c.getInline(key)[0]).isEqualTo(block);
            assertThat(c.sharedBuffers()).isFalse();
        }
        try (SidecarClient local = fx.client()) {
            assertThat(local.getInline(key)[0]).as("the Unix socket is plain").isEqualTo(block);
        }
    }

    @Test
    void aPlainClientGetsNothingAndTheSidecarKeepsServing() {
        long blocks = fx.masterStats().blocks();
        assertThatThrownBy(() -> SidecarClient.connectTcp("127.0.0.1", fx.sidecar.tcpPort(), null))
                .isInstanceOf(UncheckedIOException.class).hasMessageContaining("closed the connection");
        assertThat(fx.masterStats().blocks()).isEqualTo(blocks);
        aClientOfTheClusterCaPutsAndGetsOverTls();
    }

    @Test
    void aClientOfAnotherCaIsRefusedWithTheReason() {
        assertThatThrownBy(() -> SidecarClient.connectTls("127.0.0.1", fx.sidecar.tcpPort(), null, stranger))
                .isInstanceOf(UncheckedIOException.class).hasMessageContaining("TLS handshake failed");
        aClientOfTheClusterCaPutsAndGetsOverTls();
    }

    @Test
    void tcpBeyondLoopbackWithOnlyATokenRefusesToStart() throws Exception {
        Path tmp = Files.createTempDirectory(dir, "s");
        assertThatThrownBy(() -> new Sidecar(new Sidecar.Context().socketPath(tmp.resolve("s.sock"))
                .capacityBytes(8 << 20).tcp("0.0.0.0", 0).token("s3cret").security(PortSecurity.loopbackOnly())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sidecar's TCP port on 0.0.0.0")
                .hasMessageContaining("--tls-dir");
    }
}
