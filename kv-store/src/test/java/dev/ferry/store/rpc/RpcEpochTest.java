package dev.ferry.store.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The epoch on RPC answers: stamped by the server, fenced by the client. */
class RpcEpochTest {
    private final ExecutorService executor = Executors.newSingleThreadExecutor();
    private final RpcHandler echo = (method, in, out) -> out.writeLong(Wire.readLong(in) + 1);

    @AfterEach
    void stop() {
        executor.shutdownNow();
    }

    private static RpcException notLeader(String why) {
        return new RpcException(RpcException.NOT_LEADER, why);
    }

    @Test
    void anAnswerFromAnOlderEpochThanOneSeenIsRefused() {
        AtomicLong epoch = new AtomicLong(7);
        EpochFence fence = new EpochFence();
        try (RpcServer newer = new RpcServer("127.0.0.1", 0, echo, executor, m -> true, epoch::get);
             RpcServer older = new RpcServer("127.0.0.1", 0, echo, executor, m -> true, () -> 3);
             RpcClient toNewer = new RpcClient("127.0.0.1", newer.port(), 2_000, fence);
             RpcClient toOlder = new RpcClient("127.0.0.1", older.port(), 2_000, fence)) {
            assertThat(toNewer.call(1, b -> b.writeLong(1), Wire::readLong)).isEqualTo(2);
            assertThat(fence.highest()).isEqualTo(7);
            // The deposed master refuses the request itself (it carries epoch 7)...
            assertThatThrownBy(() -> toOlder.call(1, b -> b.writeLong(1), Wire::readLong))
                    .isInstanceOfSatisfying(RpcException.class, e -> assertThat(e.status()).isEqualTo(RpcException.NOT_LEADER))
                    .hasMessageContaining("epoch 3").hasMessageContaining("epoch 7");
        }
    }

    @Test
    void aClientRefusesAnAnswerStampedWithALowerEpochEvenWhenTheServerServedIt() throws Exception {
        EpochFence fence = new EpochFence();
        assertThat(fence.admit(9)).isTrue();
        // A server that answers whatever the request's epoch (a deposed master that ignores
        // it), stamping epoch 4: its answer is refused by the client all the same.
        try (ServerSocket raw = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             RpcClient client = new RpcClient("127.0.0.1", raw.getLocalPort(), 2_000, fence)) {
            CompletableFuture<Long> requestEpoch = CompletableFuture.supplyAsync(() -> answerOnce(raw, 4));
            assertThatThrownBy(() -> client.call(1, b -> { }, Wire::readLong))
                    .isInstanceOfSatisfying(RpcException.class, e -> assertThat(e.status()).isEqualTo(RpcException.NOT_LEADER))
                    .hasMessageContaining("epoch 4 is older than epoch 9");
            client.disconnect();
            assertThat(requestEpoch.join()).as("the request carried the highest epoch seen").isEqualTo(9);
        }
    }

    /** Reads one request and answers it with a long, stamped {@code epoch}; returns the request's epoch. */
    private static long answerOnce(ServerSocket raw, long epoch) {
        try (Socket s = raw.accept()) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            int length = in.readInt();
            byte[] body = new byte[length];
            in.readFully(body);
            ByteBuffer request = ByteBuffer.wrap(body);
            request.get();
            long callId = request.getLong();
            int method = request.getShort();
            long requestEpoch = request.getLong();
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            out.writeInt(19 + 8);
            out.writeByte(1);
            out.writeLong(callId);
            out.writeShort(method);
            out.writeLong(epoch);
            out.writeLong(42);
            out.flush();
            in.read(); // until the client closes
            return requestEpoch;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aServerThatStopsLeadingRefusesNewCallsAndTheAnswerOfACallInFlight() throws Exception {
        AtomicLong epoch = new AtomicLong(5);
        CompletableFuture<Void> release = new CompletableFuture<>();
        RpcHandler slow = new RpcHandler() {
            @Override
            public void handle(int method, io.netty.buffer.ByteBuf in, io.netty.buffer.ByteBuf out) {
                out.writeLong(1);
            }

            @Override
            public java.util.concurrent.CompletionStage<?> handleLater(int method, io.netty.buffer.ByteBuf in,
                                                                       io.netty.buffer.ByteBuf out) {
                out.writeLong(1);
                return method == 2 ? release : null;
            }
        };
        ServerEpoch fenced = () -> {
            long e = epoch.get();
            if (e == 0) {
                throw notLeader("not the leader (test)");
            }
            return e;
        };
        try (RpcServer server = new RpcServer("127.0.0.1", 0, slow, executor, m -> true, fenced);
             RpcClient client = new RpcClient("127.0.0.1", server.port(), 5_000)) {
            assertThat(client.call(1, b -> { }, Wire::readLong)).isEqualTo(1);
            CompletableFuture<Long> inFlight = CompletableFuture.supplyAsync(() -> client.call(2, b -> { }, Wire::readLong));
            org.awaitility.Awaitility.await().pollDelay(java.time.Duration.ofMillis(50)).until(() -> !inFlight.isDone());
            epoch.set(0);
            release.complete(null);
            // Served, but its answer is not sent: the term ended.
            assertThatThrownBy(inFlight::join).hasCauseInstanceOf(RpcException.class)
                    .hasMessageContaining("not the leader (test)");
            assertThatThrownBy(() -> client.call(1, b -> { }, Wire::readLong))
                    .isInstanceOfSatisfying(RpcException.class, e -> assertThat(e.status()).isEqualTo(RpcException.NOT_LEADER))
                    .hasMessageContaining("not the leader (test)");
        }
    }

    @Test
    void serversWithoutAnEpochAnswerWithZeroAndClientsAcceptIt() {
        EpochFence fence = new EpochFence();
        try (RpcServer server = new RpcServer("127.0.0.1", 0, echo, executor);
             RpcClient client = new RpcClient("127.0.0.1", server.port(), 2_000, fence)) {
            assertThat(client.call(1, b -> b.writeLong(41), Wire::readLong)).isEqualTo(42);
            assertThat(fence.highest()).isZero();
        }
    }
}
