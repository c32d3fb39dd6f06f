package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.handoff.DecodeProtocol;
import dev.ferry.store.handoff.DecodeProtocol.DecodeRequest;
import dev.ferry.store.handoff.DecodeProtocol.DecodeResult;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.master.MasterService;
import dev.ferry.store.model.ModelProfile;
import dev.ferry.store.rpc.RpcClient;
import dev.ferry.transfer.TransferEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A decode node with a GPU tier (host memory standing in), killed with SIGKILL and started again
 * with the same {@code --gpu-index}: its GPU tier starts empty, it learns from its index which
 * blocks its previous process held and tells the master, and it serves every block from DRAM,
 * then from its GPU tier again.
 */
class GpuTierRestartTest {
    private static final ModelProfile TINY = ModelProfile.byName("tiny");

    @Test
    void aKilledDecodeNodeRestartsWithAnEmptyGpuTierAndTheMasterLearnsWhatItLost(@TempDir Path dir) throws Exception {
        BlockKey[] keys = BlockKey.ofAll(1, 2, 3, 4);
        long block = TINY.blockBytes();
        // The store node here sends no heartbeats: the master must not declare it dead while the JVMs start.
        try (MasterService master = new MasterService("127.0.0.1", 0, new LruPolicy(), 600_000);
             Slab slab = Slab.allocate(16 * block);
             TransferEngine storeEngine = new TransferEngine(new TransferEngine.Context());
             MasterClient client = new MasterClient("127.0.0.1", master.port(), 5_000);
             Slab staging = Slab.allocate(keys.length * block)) {
            client.register("s1", storeEngine.registerSegment("s1/dram", slab.memory()));
            try (TransferEngine writer = new TransferEngine(new TransferEngine.Context().resolver(client));
                 StoreClient store = new StoreClient(client, writer, 10_000)) {
                assertThat(store.put(keys, block, staging.memory(), BlockContent::fill).written()).isEqualTo(4);
            }
            List<String> args = List.of("--master", "127.0.0.1:" + master.port(), "--model", TINY.name(),
                    "--gpu-capacity", "4MiB", "--gpu-memory", "host", "--gpu-index",
                    dir.resolve("decode-gpu.index").toString());
            Path firstLog = dir.resolve("decode-1.log");
            ChildProcess first = ChildProcess.start("decode", List.of(), "dev.ferry.decode.DecodeMain", args, firstLog);
            try {
                first.awaitReady();
                DecodeResult cold = decode(first, keys);
                assertThat(cold.gpuBlocks()).isZero();
                assertThat(cold.verifyFailures()).isZero();
                assertThat(decode(first, keys).gpuBlocks()).isEqualTo(4);
            } finally {
                first.kill();
            }
            first.awaitExit();

            Path secondLog = dir.resolve("decode-2.log");
            ChildProcess second = ChildProcess.start("decode", List.of(), "dev.ferry.decode.DecodeMain", args,
                    secondLog);
            try {
                second.awaitReady();
                assertThat(master.master().gpuCopiesLost()).isEqualTo(4);
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(Files.readString(secondLog))
                        .contains("GPU tier: 4 blocks lost with the previous process")
                        .contains("4 of them still in the store"));
                DecodeResult afterRestart = decode(second, keys);
                assertThat(afterRestart.gpuBlocks()).isZero();
                assertThat(afterRestart.bytes()).isEqualTo(4 * block);
                assertThat(afterRestart.verifyFailures()).isZero();
                DecodeResult warm = decode(second, keys);
                assertThat(warm.gpuBlocks()).isEqualTo(4);
                assertThat(warm.bytes()).isZero();
                assertThat(warm.verifyFailures()).isZero();
            } finally {
                second.stop();
            }
            assertThat(Files.readString(firstLog)).doesNotContain("blocks lost");
        }
    }

    private static DecodeResult decode(ChildProcess node, BlockKey[] keys) {
        DecodeRequest request = new DecodeRequest(1, keys.length * TINY.blockTokens(), 4, TINY.blockBytes(), keys);
        try (RpcClient rpc = new RpcClient("127.0.0.1", Integer.parseInt(node.field("port")), 30_000)) {
            return rpc.call(DecodeProtocol.DECODE, request::write, DecodeResult::read);
        }
    }
}
