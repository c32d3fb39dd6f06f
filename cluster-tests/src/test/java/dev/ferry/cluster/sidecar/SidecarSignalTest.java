package dev.ferry.cluster.sidecar;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.cluster.ChildProcess;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ferry sidecar} stopped with SIGTERM, as a service manager stops it: a connection
 * with nothing in flight is told why it closes (SHUTTING_DOWN, request id 0), the socket
 * file is gone, and the process exits 0.
 */
class SidecarSignalTest {
    @Test
    void sigtermTellsIdleConnectionsWhyTheyCloseAndExitsZero(@TempDir Path dir) throws IOException {
        Path socket = dir.resolve("sidecar.sock");
        ChildProcess sidecar = ChildProcess.start("sidecar", List.of(), "dev.ferry.cluster.cli.FerryCommand",
                List.of("sidecar", "--socket", socket.toString(), "--capacity", "16MiB", "--node-id",
                        "sig-" + ProcessHandle.current().pid()), dir.resolve("sidecar.log"));
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            assertThat(sidecar.field("socket")).isEqualTo(socket.toString());
            ch.connect(UnixDomainSocketAddress.of(socket));
            ByteBuffer hello = ByteBuffer.allocate(22).order(ByteOrder.LITTLE_ENDIAN);
            hello.putInt(18).putShort((short) 1).putShort((short) 0).putLong(1).putShort((short) 1)
                    .putShort((short) 1).putShort((short) 0).flip();
            ch.write(hello);
            ByteBuffer helloAnswer = read(ch);
            assertThat(helloAnswer.getShort(6)).isZero();
            assertThat(helloAnswer.limit()).isEqualTo(16 + 32);

            sidecar.terminate();
            ByteBuffer notice = read(ch);
            assertThat(notice.getShort(6)).isEqualTo((short) 15); // SHUTTING_DOWN
            assertThat(notice.getLong(8)).isZero(); // the connection's, not a request's
            assertThat(ch.read(ByteBuffer.allocate(1))).isEqualTo(-1);
        } finally {
            sidecar.awaitExit();
        }
        assertThat(sidecar.exitValue()).isZero();
        assertThat(socket).doesNotExist();
    }

    private static ByteBuffer read(SocketChannel ch) throws IOException {
        ByteBuffer length = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        fill(ch, length);
        ByteBuffer frame = ByteBuffer.allocate(4 + length.getInt(0)).order(ByteOrder.LITTLE_ENDIAN);
        frame.putInt(length.getInt(0));
        fill(ch, frame);
        return frame.flip();
    }

    private static void fill(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new IOException("closed by the sidecar");
            }
        }
    }
}
