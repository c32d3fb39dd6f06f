package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.store.rpc.RpcException;
import dev.ferry.store.rpc.RpcHandler;
import dev.ferry.store.rpc.RpcServer;
import dev.ferry.store.rpc.Wire;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import io.netty.buffer.ByteBuf;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/**
 * Master protocol version 2 (16-byte keys) against processes of a build that spoke version 1
 * (8-byte keys), over real sockets: each side gets a clear refusal naming the versions, never
 * a misread key.
 */
class MasterVersionTest {
    private static final SegmentDescriptor SEGMENT = new SegmentDescriptor("n1/dram", 1 << 20,
            new Endpoint("127.0.0.1", 1));

    @Test
    void aVersionOneCallIsRefusedByNameAndChangesNothing() {
        try (MasterService service = new MasterService("127.0.0.1", 0, new LruPolicy(), 10_000);
             RpcClient old = new RpcClient("127.0.0.1", service.port(), 5_000);
             MasterClient client = new MasterClient("127.0.0.1", service.port(), 5_000)) {
            client.register("n1", SEGMENT);
            // A version-1 PUT_START (method 4): keys as i64, then block bytes, replicas, preferred segment.
            assertThatThrownBy(() -> old.call(4, b -> {
                Wire.writeLongs(b, new long[] {1, 2});
                b.writeLong(4096).writeInt(1);
                Wire.writeString(b, "");
            }, b -> null)).isInstanceOfSatisfying(RpcException.class,
                    e -> assertThat(e.status()).isEqualTo(RpcException.REFUSED))
                    .hasMessageContaining("master protocol version mismatch: method 4 is a version 1 call "
                            + "(8-byte block keys); this master speaks version 2")
                    .hasMessageContaining("from one build");
            assertThat(service.master().stats().pendingBlocks()).isZero();
            // A version-1 LOOKUP_PREFIX (method 3) likewise.
            assertThatThrownBy(() -> old.call(3, b -> Wire.writeLongs(b, new long[] {1}), Wire::readInt))
                    .hasMessageContaining("method 3 is a version 1 call");
            // The master still serves this build's calls.
            assertThat(client.putStart(BlockKey.ofAll(1), 4096)).hasSize(1);
        }
    }

    @Test
    void aRegistrationOfAnotherVersionIsRefusedNamingBoth() {
        try (MasterService service = new MasterService("127.0.0.1", 0, new LruPolicy(), 10_000);
             RpcClient node = new RpcClient("127.0.0.1", service.port(), 5_000)) {
            assertThatThrownBy(() -> node.call(MasterProtocol.REGISTER, b -> {
                b.writeInt(3);
                Wire.writeString(b, "n1");
                MasterProtocol.writeDescriptor(b, SEGMENT);
                b.writeBoolean(false).writeLong(0);
                Wire.writeString(b, "");
                b.writeInt(0);
            }, Wire::readInt)).isInstanceOfSatisfying(RpcException.class,
                    e -> assertThat(e.status()).isEqualTo(RpcException.REFUSED))
                    .hasMessageContaining("the node speaks version 3, this master version 2");
            assertThat(service.master().stats().nodes()).isZero();
        }
    }

    @Test
    void aMasterThatKeepsNoNamesGetsPutStartWithoutThem() {
        // A master of a build before PUT_START_NAMED (42) and REMOVE_BY_REGEX (43): it serves PUT_START.
        Master master = new Master(new LruPolicy(), System::nanoTime, 10_000, 10_000);
        master.registerNode("n1", SEGMENT);
        java.util.concurrent.atomic.AtomicInteger putStarts = new java.util.concurrent.atomic.AtomicInteger();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        RpcHandler older = new RpcHandler() {
            @Override
            public void handle(int method, ByteBuf request, ByteBuf answer) {
                if (method != MasterProtocol.PUT_START) {
                    throw new RpcException(RpcException.REFUSED, "unknown master method " + method);
                }
                putStarts.incrementAndGet();
                BlockKey[] keys = Wire.readKeys(request);
                long bytes = Wire.readLong(request);
                int replicas = Wire.readInt(request);
                Wire.readString(request);
                var placements = master.putStart(keys, bytes, replicas, null);
                answer.writeInt(placements.size());
                for (Placement p : placements) {
                    p.key().write(answer).writeBoolean(p.exists());
                    Wire.writeString(answer, p.exists() ? "" : p.segment());
                    answer.writeLong(p.offset()).writeLong(p.length());
                }
            }
        };
        try (RpcServer server = new RpcServer("127.0.0.1", 0, older, executor);
             MasterClient client = new MasterClient("127.0.0.1", server.port(), 5_000)) {
            assertThat(client.putStart(BlockKey.ofAll(1), 4096, 1, null, new String[] {"k1"})).hasSize(1);
            assertThat(client.putStart(BlockKey.ofAll(2), 4096, 1, null, new String[] {"k2"})).hasSize(1);
            assertThat(putStarts).hasValue(2); // the second put asked for PUT_START at once
            assertThatThrownBy(() -> client.removeByRegex("k.*", false))
                    .hasMessageContaining("unknown master method " + MasterProtocol.REMOVE_BY_REGEX);
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void aMasterOfAnOlderBuildIsNamedAsSuchToTheClient() {
        // A master of the earlier build knows none of version 2's method numbers.
        ExecutorService executor = Executors.newSingleThreadExecutor();
        RpcHandler older = new RpcHandler() {
            @Override
            public void handle(int method, ByteBuf request, ByteBuf answer) {
                throw new RpcException(RpcException.REFUSED, "unknown master method " + method);
            }
        };
        try (RpcServer server = new RpcServer("127.0.0.1", 0, older, executor);
             MasterClient client = new MasterClient("127.0.0.1", server.port(), 5_000)) {
            assertThatThrownBy(() -> client.lookupPrefix(BlockKey.ofAll(1)))
                    .isInstanceOfSatisfying(RpcException.class, e -> assertThat(e.status()).isEqualTo(RpcException.REFUSED))
                    .hasMessageContaining("master protocol version mismatch: the master at " + client.target()
                            + " does not know this build's calls (unknown master method " + MasterProtocol.LOOKUP_PREFIX
                            + ")")
                    .hasMessageContaining("from one build");
            assertThatThrownBy(() -> client.register("n1", SEGMENT)).hasMessageContaining("version mismatch");
        } finally {
            executor.shutdownNow();
        }
    }
}
