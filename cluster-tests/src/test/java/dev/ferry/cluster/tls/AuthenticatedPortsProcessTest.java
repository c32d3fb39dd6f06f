package dev.ferry.cluster.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.cluster.ChildProcess;
import dev.ferry.cluster.cli.ExitCodes;
import dev.ferry.cluster.cli.FerryCommand;
import dev.ferry.store.coord.MasterAddress;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.server.MasterMain;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.tls.PortSecurity;
import dev.ferry.transfer.tls.TlsConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Authenticated ports as a user meets them, with real processes: {@code ferry ca} makes
 * certificates that a master started with {@code --tls-dir} accepts from its cluster's nodes
 * only, and a master told to bind beyond loopback without TLS refuses to start, naming the flags.
 */
class AuthenticatedPortsProcessTest {
    private static final SegmentDescriptor SEGMENT = new SegmentDescriptor("n1/dram", 1 << 20,
            new Endpoint("127.0.0.1", 1));

    @Test
    void theCaCommandMakesCertificatesThatAMasterProcessAcceptsFromItsClusterOnly(@TempDir Path dir) throws Exception {
        StringWriter out = new StringWriter();
        CommandLine cli = FerryCommand.commandLine();
        cli.setErr(new PrintWriter(out, true));
        assertThat(cli.execute("ca", "--dir", dir.resolve("ca").toString(), "--hosts", "master,node1")).isEqualTo(
                ExitCodes.OK);
        assertThat(Files.getPosixFilePermissions(dir.resolve("ca/node1/key.pem")))
                .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        assertThat(cli.execute("ca", "--dir", dir.resolve("other").toString(), "--hosts", "node1")).isEqualTo(
                ExitCodes.OK);

        ChildProcess master = ChildProcess.start("master", List.of(), MasterMain.class.getName(), List.of("--host",
                "0.0.0.0", "--tls-dir", dir.resolve("ca/master").toString()), dir.resolve("master.log"));
        try {
            int port = Integer.parseInt(master.field("port"));
            MasterAddress address = MasterAddress.of("127.0.0.1", port);
            try (MasterClient stranger = new MasterClient(address, 3_000, 0,
                    PortSecurity.tls(TlsConfig.fromDir(dir.resolve("other/node1"))));
                 MasterClient plain = new MasterClient(address, 3_000, 0, PortSecurity.loopbackOnly())) {
                assertThatThrownBy(() -> stranger.register("intruder", SEGMENT)).isInstanceOf(RpcException.class)
                        .hasMessageContaining("TLS handshake failed");
                assertThatThrownBy(() -> plain.register("intruder", SEGMENT)).isInstanceOf(RpcException.class);
            }
            try (MasterClient node = new MasterClient(address, 3_000, 0,
                    PortSecurity.tls(TlsConfig.fromDir(dir.resolve("ca/node1"))))) {
                node.register("n1", SEGMENT);
                assertThat(node.stats().nodes()).isEqualTo(1);
            }
        } finally {
            master.stop();
            master.awaitExit();
        }
    }

    @Test
    void aMasterBeyondLoopbackWithoutTlsRefusesToStartNamingTheFlags(@TempDir Path dir) {
        ChildProcess master = ChildProcess.start("master", List.of(), MasterMain.class.getName(), List.of("--host",
                "0.0.0.0"), dir.resolve("master.log"));
        try {
            assertThatThrownBy(master::awaitReady).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("0.0.0.0").hasMessageContaining("--tls-dir")
                    .hasMessageContaining("--insecure-no-tls");
            master.awaitExit();
            assertThat(master.exitValue()).isNotZero();
        } finally {
            master.stop();
        }
    }
}
