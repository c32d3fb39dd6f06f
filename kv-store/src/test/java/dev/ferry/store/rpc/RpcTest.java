package dev.ferry.store.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.DataOutputStream;
import java.net.Socket;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

class RpcTest {
    @Test
    void callsAnswerErrorsAndSurviveGarbage() throws Exception {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        RpcHandler echo = (method, in, out) -> {
            if (method == 2) {
                throw new RpcException(RpcException.REFUSED, "no such thing");
            }
            out.writeLong(Wire.readLong(in) + 1);
        };
        try (RpcServer server = new RpcServer("127.0.0.1", 0, echo, executor);
             RpcClient client = new RpcClient("127.0.0.1", server.port(), 2_000)) {
            assertThat(client.call(1, b -> b.writeLong(41), Wire::readLong)).isEqualTo(42);
            assertThatThrownBy(() -> client.call(2, b -> { }, b -> null)).isInstanceOf(RpcException.class)
                    .hasMessage("no such thing");
            // A short payload is a clear error, not an index exception.
            assertThatThrownBy(() -> client.call(1, b -> b.writeByte(1), Wire::readLong))
                    .hasMessageContaining("payload too short");
            try (Socket s = new Socket("127.0.0.1", server.port())) {
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                out.writeInt(3);
                out.write(new byte[] {9, 9, 9});
                out.flush();
                assertThat(s.getInputStream().read()).isEqualTo(-1);
            }
            assertThat(server.malformedFrames()).isEqualTo(1);
            assertThat(client.call(1, b -> b.writeLong(1), Wire::readLong)).isEqualTo(2);
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void deadServerIsUnavailableAndPortInUseIsNamed() {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try (RpcServer server = new RpcServer("127.0.0.1", 0, (m, i, o) -> { }, executor)) {
            assertThatThrownBy(() -> new RpcServer("127.0.0.1", server.port(), (m, i, o) -> { }, executor))
                    .hasMessageContaining(":" + server.port()).hasMessageContaining("in use");
            int port = server.port();
            server.close();
            try (RpcClient client = new RpcClient("127.0.0.1", port, 1_000)) {
                assertThatThrownBy(() -> client.call(1, b -> { }, b -> null)).isInstanceOf(RpcException.class)
                        .extracting(e -> ((RpcException) e).status()).isEqualTo(RpcException.UNAVAILABLE);
            }
        } finally {
            executor.shutdownNow();
        }
    }
}
