package dev.ferry.cluster.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.cluster.ChildProcess;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.sidecar.Memfd;
import dev.ferry.store.sidecar.SidecarClient;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ferry sidecar --data-dir} killed with SIGKILL and started again: the blocks a
 * client put before the kill come back through the new sidecar, byte for byte, including
 * those of a put acknowledged just before the kill.
 */
class SidecarWarmRestartTest {
    private static final long BLOCK = 256 * 1024;

    @Test
    void blocksPutBeforeASigkillAreServedByTheRestartedSidecar(@TempDir Path dir) throws Exception {
        putKillRestart(dir, new long[] {11, 12, 13, 14, 15, 16}, true);
    }

    @Test
    void blocksOfAPutAcknowledgedRightBeforeASigkillAreServedByTheRestartedSidecar(@TempDir Path dir)
            throws Exception {
        putKillRestart(dir, java.util.stream.LongStream.rangeClosed(101, 132).toArray(), false);
    }

    /**
     * Puts {@code keys}, SIGKILLs the sidecar (once the master has nothing unacknowledged,
     * when {@code settle}; else right after the put's acknowledgement), starts it again and
     * reads every block back.
     */
    private static void putKillRestart(Path dir, long[] keys, boolean settle) throws Exception {
        Path data = Files.createTempDirectory(Path.of("/dev/shm"), "ferry-sidecar-warm-");
        Path socket = dir.resolve("sidecar.sock");
        try {
            try (Memfd buffer = new Memfd(keys.length * BLOCK)) {
                MemorySegment mem = buffer.memory(); // the sidecar is another process: mapping first is fine
                ChildProcess first = start(dir, socket, data, "first");
                try (SidecarClient client = SidecarClient.connect(socket)) {
                    int id = client.registerBuffer(buffer.path(), keys.length * BLOCK);
                    long[] offsets = new long[keys.length];
                    long[] lengths = new long[keys.length];
                    for (int i = 0; i < keys.length; i++) {
                        offsets[i] = i * BLOCK;
                        lengths[i] = BLOCK;
                        BlockContent.fill(keys[i], mem.asSlice(offsets[i], BLOCK));
                    }
                    client.put(keys, id, offsets, lengths);
                }
                if (settle) {
                    // The node's index has applied every commit once the master has nothing unacknowledged.
                    String[] master = first.field("master").split(":");
                    try (MasterClient m = new MasterClient(master[0], Integer.parseInt(master[1]), 5_000)) {
                        await().atMost(Duration.ofSeconds(20)).until(() -> m.stats().indexBacklog() == 0);
                    }
                }
                first.kill();
                first.awaitExit();
                Files.deleteIfExists(socket); // a killed sidecar leaves its socket file behind

                mem.fill((byte) 0);
                ChildProcess second = start(dir, socket, data, "second");
                try (SidecarClient client = SidecarClient.connect(socket)) {
                    int id = client.registerBuffer(buffer.path(), keys.length * BLOCK);
                    assertThat(client.exists(keys)).containsOnly(true);
                    for (int i = 0; i < keys.length; i++) {
                        assertThat(client.get(keys[i], id, i * BLOCK, BLOCK)).isEqualTo(BLOCK);
                        assertThat(BlockContent.firstMismatch(keys[i], mem.asSlice(i * BLOCK, BLOCK))).isEqualTo(-1);
                    }
                } finally {
                    second.stop();
                    second.awaitExit();
                }
            }
        } finally {
            try (Stream<Path> files = Files.walk(data)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static ChildProcess start(Path dir, Path socket, Path data, String name) throws IOException {
        ChildProcess sidecar = ChildProcess.start(name, List.of(), "dev.ferry.cluster.cli.FerryCommand",
                List.of("sidecar", "--socket", socket.toString(), "--capacity", "16MiB", "--node-id", "warm",
                        "--data-dir", data.toString(), "--exit-on-stdin-close"), dir.resolve(name + ".log"));
        assertThat(sidecar.field("socket")).isEqualTo(socket.toString());
        return sidecar;
    }
}
