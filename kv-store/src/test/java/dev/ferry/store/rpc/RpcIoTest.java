package dev.ferry.store.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.transfer.transport.tcp.IoBackend;
import io.netty.channel.epoll.Epoll;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The RPC server and client on each I/O backend: answers, timeouts and lost connections behave alike. */
class RpcIoTest {
    private static final int ECHO = 1;
    private static final int NEVER = 2;

    /** Echoes a long plus one; NEVER is answered never (a server that stopped answering). */
    private static final RpcHandler HANDLER = new RpcHandler() {
        @Override
        public void handle(int method, ByteBuf in, ByteBuf out) {
            out.writeLong(Wire.readLong(in) + 1);
        }

        @Override
        public CompletionStage<?> handleLater(int method, ByteBuf in, ByteBuf out) {
            if (method == NEVER) {
                return new CompletableFuture<>();
            }
            handle(method, in, out);
            return null;
        }
    };

    @Test
    void serverAndClientRunOnEpollByDefaultWhereItLoads() {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        String before = System.clearProperty(RpcIo.PROPERTY);
        try (RpcServer server = new RpcServer("127.0.0.1", 0, HANDLER, executor, m -> true);
             RpcClient client = new RpcClient("127.0.0.1", server.port(), 2_000)) {
            IoBackend expected = Epoll.isAvailable() ? IoBackend.EPOLL : IoBackend.NIO;
            assertThat(server.ioBackend()).isEqualTo(expected);
            assertThat(client.ioBackend()).isEqualTo(expected);
            assertThat(client.call(ECHO, b -> b.writeLong(1), Wire::readLong)).isEqualTo(2);
        } finally {
            restore(before);
            executor.shutdownNow();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void aCallTimesOutAndACallCutOffByAClosedServerFailsUnavailable(String backend) throws Exception {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        ExecutorService caller = Executors.newSingleThreadExecutor();
        String before = System.setProperty(RpcIo.PROPERTY, backend);
        try (RpcServer server = new RpcServer("127.0.0.1", 0, HANDLER, executor, m -> true);
             RpcClient client = new RpcClient("127.0.0.1", server.port(), 300)) {
            IoBackend asked = IoBackend.parse(backend);
            if (asked.unavailability() == null) {
                assertThat(client.ioBackend()).isEqualTo(asked);
                assertThat(server.ioBackend()).isEqualTo(asked);
            }
            assertThat(client.call(ECHO, b -> b.writeLong(41), Wire::readLong)).isEqualTo(42);
            assertThatThrownBy(() -> client.call(NEVER, b -> { }, b -> null)).isInstanceOf(RpcException.class)
                    .extracting(e -> ((RpcException) e).status()).isEqualTo(RpcException.TIMEOUT);
            // The connection still serves after a timeout.
            assertThat(client.call(ECHO, b -> b.writeLong(1), Wire::readLong)).isEqualTo(2);

            Future<?> cutOff = caller.submit(() -> client.call(NEVER, b -> { }, b -> null, 60_000));
            org.awaitility.Awaitility.await().atMost(10, TimeUnit.SECONDS)
                    .until(() -> client.pendingCalls() > 0);
            server.close();
            assertThatThrownBy(() -> cutOff.get(10, TimeUnit.SECONDS)).cause().isInstanceOf(RpcException.class)
                    .extracting(e -> ((RpcException) e).status()).isEqualTo(RpcException.UNAVAILABLE);
        } finally {
            restore(before);
            caller.shutdownNow();
            executor.shutdownNow();
        }
    }

    @Test
    void anUnknownBackendIsRefusedNamingTheChoices() {
        String before = System.setProperty(RpcIo.PROPERTY, "kqueue");
        try {
            assertThatThrownBy(RpcIo::configured).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("kqueue").hasMessageContaining("epoll").hasMessageContaining("nio");
        } finally {
            restore(before);
        }
    }

    private static void restore(String before) {
        if (before == null) {
            System.clearProperty(RpcIo.PROPERTY);
        } else {
            System.setProperty(RpcIo.PROPERTY, before);
        }
    }
}
