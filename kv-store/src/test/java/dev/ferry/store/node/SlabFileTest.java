package dev.ferry.store.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.store.master.MasterService;
import dev.ferry.transfer.TransferEngine;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store node's slab file under its shm directory: removed on close and on a failed start,
 * and a stale one left by a killed node (its pid no longer alive) removed when the next node
 * starts, while a live process's file is kept.
 */
class SlabFileTest {
    @TempDir
    Path shm;

    private StoreNode.Config config(String id, int masterPort) {
        return new StoreNode.Config(id, new HostPort("127.0.0.1", masterPort), 1 << 20, new TransferEngine.Context(),
                shm, null, null, 0, "lru", 300, false, 0);
    }

    private long slabFiles() throws IOException {
        try (Stream<Path> files = Files.list(shm)) {
            return files.filter(f -> f.toString().endsWith(".slab")).count();
        }
    }

    @Test
    void staleSlabOfADeadNodeIsRemovedAtStartAndALiveOneKept() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Path stale = Files.write(shm.resolve("ferry-store-1-" + gone.pid() + ".slab"), new byte[4096]);
        Path live = Files.write(shm.resolve("ferry-store-2-" + ProcessHandle.current().pid() + ".slab"),
                new byte[4096]);
        try (MasterService master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000)) {
            Path own;
            try (StoreNode node = StoreNode.start(config("store-3", master.port()))) {
                assertThat(stale).doesNotExist();
                assertThat(live).exists();
                own = node.slabFile();
                assertThat(own).exists();
            }
            assertThat(own).doesNotExist();
        }
        assertThat(live).exists();
        Files.delete(live);
    }

    @Test
    void failedStartLeavesNoSlabFile() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        assertThatThrownBy(() -> StoreNode.start(config("store-1", closedPort))).isInstanceOf(RuntimeException.class);
        assertThat(slabFiles()).isZero();
    }

    @Test
    void populatedSlabReportsItsTimeAndALazyOneNone() {
        try (MasterService master = new MasterService("127.0.0.1", 0, new LruPolicy(), 5_000)) {
            try (StoreNode populated = StoreNode.start(config("p", master.port()))) {
                assertThat(populated.populateNanos()).isPositive();
            }
            StoreNode.Config c = config("l", master.port());
            try (StoreNode lazy = StoreNode.start(new StoreNode.Config(c.nodeId(), c.master(), c.capacityBytes(),
                    c.engine(), shm, null, null, 0, "lru", 300, true, 0, c.masterReconnectMillis()))) {
                assertThat(lazy.populateNanos()).isZero();
            }
        }
    }
}
