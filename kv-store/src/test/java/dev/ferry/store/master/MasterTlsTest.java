package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.ServerEpoch;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.tls.ClusterCa;
import dev.ferry.transfer.tls.PortSecurity;
import dev.ferry.transfer.tls.TlsConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The master RPC over mutual TLS, with real sockets: a node with a certificate of the cluster
 * CA registers; one without TLS, or with a certificate of another CA, cannot register or call
 * the master, and the master keeps serving its cluster.
 */
class MasterTlsTest {
    private static final SegmentDescriptor SEGMENT = new SegmentDescriptor("n1/dram", 1 << 20,
            new Endpoint("127.0.0.1", 1));

    @TempDir
    static Path dir;
    private static PortSecurity master;
    private static PortSecurity node;
    private static PortSecurity stranger;

    @BeforeAll
    static void certificates() {
        ClusterCa ca = ClusterCa.create("test-cluster-ca");
        master = PortSecurity.tls(TlsConfig.fromDir(ca.issue(dir.resolve("master"), "master", List.of())));
        node = PortSecurity.tls(TlsConfig.fromDir(ca.issue(dir.resolve("node"), "node", List.of())));
        stranger = PortSecurity.tls(TlsConfig.fromDir(ClusterCa.create("another-ca").issue(dir.resolve("stranger"),
                "node", List.of())));
    }

    private static MasterService tlsMaster() {
        return new MasterService("127.0.0.1", 0, new LruPolicy(), 10_000, ServerEpoch.NONE, master);
    }

    private static MasterClient client(MasterService service, PortSecurity security) {
        return new MasterClient(MasterAddress.of("127.0.0.1", service.port()), 3_000, 0, security);
    }

    @Test
    void aNodeWithoutTlsCannotRegisterNorCallAndOthersStillCan() {
        try (MasterService service = tlsMaster();
             MasterClient plain = client(service, PortSecurity.loopbackOnly())) {
            assertThatThrownBy(() -> plain.register("intruder", SEGMENT)).isInstanceOf(RpcException.class)
                    .hasMessageContaining("127.0.0.1:" + service.port());
            assertThatThrownBy(() -> plain.lookupPrefix(dev.ferry.store.block.BlockKey.ofAll(1)))
                    .isInstanceOf(RpcException.class);
            assertThat(service.master().stats().nodes()).isZero();
            try (MasterClient member = client(service, node)) {
                member.register("n1", SEGMENT);
            }
            assertThat(service.master().stats().nodes()).isEqualTo(1);
        }
    }

    @Test
    void aNodeWithACertificateOfAnotherCaIsRefusedWithTheReason() {
        try (MasterService service = tlsMaster();
             MasterClient impostor = client(service, stranger);
             MasterClient member = client(service, node)) {
            assertThatThrownBy(() -> impostor.register("intruder", SEGMENT)).isInstanceOf(RpcException.class)
                    .hasMessageContaining("TLS handshake failed");
            member.register("n1", SEGMENT);
            assertThat(service.master().stats().nodes()).isEqualTo(1);
        }
    }

    @Test
    void aTlsClientOfAPlainMasterIsRefusedWithTheReason() {
        try (MasterService service = new MasterService("127.0.0.1", 0, new LruPolicy(), 10_000);
             MasterClient member = client(service, node)) {
            assertThatThrownBy(() -> member.register("n1", SEGMENT)).isInstanceOf(RpcException.class)
                    .hasMessageContaining("TLS handshake failed");
        }
    }

    @Test
    void aMasterBeyondLoopbackWithoutTlsRefusesToStartNamingTheFlags() {
        assertThatThrownBy(() -> new MasterService("0.0.0.0", 0, new LruPolicy(), 10_000, ServerEpoch.NONE,
                PortSecurity.loopbackOnly())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the RPC port on 0.0.0.0:0").hasMessageContaining("--tls-dir")
                .hasMessageContaining("--insecure-no-tls");
        try (MasterService trusted = new MasterService("0.0.0.0", 0, new LruPolicy(), 10_000, ServerEpoch.NONE,
                PortSecurity.insecure())) {
            assertThat(trusted.port()).isPositive();
        }
    }
}
