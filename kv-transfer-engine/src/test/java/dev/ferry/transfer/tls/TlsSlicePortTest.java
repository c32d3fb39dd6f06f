package dev.ferry.transfer.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.TransferException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The slice data port over mutual TLS, with real sockets: peers with a certificate of the
 * cluster CA move bytes; a peer without one, or with one of another CA, can neither write nor
 * read a segment, and the port keeps serving its cluster.
 */
class TlsSlicePortTest {
    private static final long BYTES = 8L << 20;
    private static final long LENGTH = (5L << 20) + 3;

    @TempDir
    static Path dir;
    private static PortSecurity target;
    private static PortSecurity peer;
    private static PortSecurity stranger;

    private Slab targetSlab;
    private Slab localSlab;
    private TransferEngine server;
    private SegmentDescriptor segment;

    @BeforeAll
    static void certificates() {
        ClusterCa ca = ClusterCa.create("test-cluster-ca");
        target = PortSecurity.tls(TlsConfig.fromDir(ca.issue(dir.resolve("target"), "target", List.of("127.0.0.1"))));
        peer = PortSecurity.tls(TlsConfig.fromDir(ca.issue(dir.resolve("peer"), "peer", List.of("127.0.0.1"))));
        ClusterCa other = ClusterCa.create("another-ca");
        stranger = PortSecurity.tls(TlsConfig.fromDir(other.issue(dir.resolve("stranger"), "peer", List.of("127.0.0.1"))));
    }

    @BeforeEach
    void start() {
        targetSlab = Slab.allocate(BYTES);
        localSlab = Slab.allocate(BYTES);
        server = new TransferEngine(new TransferEngine.Context().security(target));
        segment = server.registerSegment("t/dram", targetSlab.memory());
        MemorySegment local = localSlab.memory();
        for (long i = 0; i < LENGTH; i++) {
            local.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7));
        }
    }

    @AfterEach
    void stop() {
        server.close();
        localSlab.close();
        targetSlab.close();
    }

    private TransferEngine initiator(PortSecurity security) {
        return new TransferEngine(new TransferEngine.Context().security(security).connectTimeoutMillis(1_000)
                .maxAttempts(2).resolver(name -> segment));
    }

    /** One whose lost connections are given up quickly: the server closes each it cannot authenticate. */
    private TransferEngine impatient(PortSecurity security) {
        return new TransferEngine(new TransferEngine.Context().security(security).connectTimeoutMillis(500)
                .stallTimeoutMillis(200).maxAttempts(2).resolver(name -> segment));
    }

    @Test
    void peersOfTheClusterCaWriteAndReadEveryByte() {
        try (TransferEngine initiator = initiator(peer)) {
            MemorySegment local = localSlab.memory();
            initiator.submit(List.of(TransferRequest.write(local, 0, "t/dram", 11, LENGTH))).await();
            assertThat(targetSlab.memory().asSlice(11, LENGTH).mismatch(local.asSlice(0, LENGTH))).isEqualTo(-1);
            MemorySegment back = Slab.allocate(LENGTH).memory();
            initiator.submit(List.of(TransferRequest.read(back, 0, "t/dram", 11, LENGTH))).await();
            assertThat(back.mismatch(local.asSlice(0, LENGTH))).isEqualTo(-1);
        }
    }

    @Test
    void aPeerWithoutTlsCannotWriteAndTheClusterIsStillServed() {
        try (TransferEngine plain = impatient(PortSecurity.loopbackOnly())) {
            assertThatThrownBy(() -> plain.submit(List.of(TransferRequest.write(localSlab.memory(), 0, "t/dram", 0,
                    LENGTH))).await()).isInstanceOf(TransferException.class);
        }
        assertThat(targetSlab.memory().asSlice(0, LENGTH).mismatch(MemorySegment.ofArray(new byte[(int) LENGTH])))
                .as("nothing written by the peer without a certificate").isEqualTo(-1);
        peersOfTheClusterCaWriteAndReadEveryByte();
    }

    @Test
    void aPeerWithACertificateOfAnotherCaIsRefusedWithTheReason() {
        try (TransferEngine impostor = initiator(stranger)) {
            assertThatThrownBy(() -> impostor.submit(List.of(TransferRequest.write(localSlab.memory(), 0, "t/dram", 0,
                    LENGTH))).await()).isInstanceOf(TransferException.class).hasMessageContaining("TLS handshake failed");
            assertThatThrownBy(() -> impostor.submit(List.of(TransferRequest.read(localSlab.memory(), 0, "t/dram", 0,
                    LENGTH))).await()).isInstanceOf(TransferException.class).hasMessageContaining("TLS handshake failed");
        }
        assertThat(targetSlab.memory().asSlice(0, LENGTH).mismatch(MemorySegment.ofArray(new byte[(int) LENGTH])))
                .as("nothing written by the peer of another CA").isEqualTo(-1);
        peersOfTheClusterCaWriteAndReadEveryByte();
    }

    @Test
    void aPortBeyondLoopbackWithoutTlsRefusesToStart() {
        assertThatThrownBy(() -> new TransferEngine(new TransferEngine.Context().bindHost("0.0.0.0")
                .advertise(List.of("127.0.0.1")).security(PortSecurity.loopbackOnly())))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("0.0.0.0")
                .hasMessageContaining("--tls-dir").hasMessageContaining("--insecure-no-tls");
        assertThatThrownBy(() -> new TransferEngine(new TransferEngine.Context().bindHost("0.0.0.0")
                .advertise(List.of("127.0.0.1")).security(peer).aeron(true)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("Aeron UDP")
                .hasMessageContaining("no authentication");
    }
}
