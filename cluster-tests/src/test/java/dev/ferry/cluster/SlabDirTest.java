package dev.ferry.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.nativemem.HugeTmpfs;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import dev.ferry.store.client.StoreClient;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.server.MasterMain;
import dev.ferry.store.server.SidecarMain;
import dev.ferry.store.server.StoreNodeMain;
import dev.ferry.transfer.TransferEngine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store node ({@code --slab-dir}) and a sidecar ({@code FERRY_SLAB_DIR}) with their slabs on
 * a tmpfs mounted with {@code huge=always}, as real processes: each slab file lives there, on
 * 2 MiB pages, the shared-memory transport of a client maps it from there, and nothing is
 * left in the directory or mounted afterwards. Mounting needs root; skipped elsewhere.
 */
class SlabDirTest {
    private static final long BLOCK = 256 * 1024;
    private static final long CAPACITY = 32 * BLOCK;

    private final List<ChildProcess> processes = new ArrayList<>();

    @AfterEach
    void stop() {
        processes.forEach(ChildProcess::stop);
        processes.forEach(ChildProcess::awaitExit);
    }

    private ChildProcess start(Path logs, String name, List<String> prefix, Class<?> main, String... args) {
        ChildProcess p = ChildProcess.start(name, prefix, main.getName(), List.of(args), logs.resolve(name + ".log"));
        processes.add(p);
        p.awaitReady();
        return p;
    }

    @Test
    void storeNodeAndSidecarKeepTheirSlabsOnAHugePageTmpfs(@TempDir Path logs) throws IOException {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root");
        HugeTmpfs tmpfs;
        try {
            tmpfs = HugeTmpfs.mount(logs, 2 * CAPACITY + 4 * Slab.HUGE_PAGE_BYTES);
        } catch (IllegalStateException e) {
            assumeTrue(false, "no tmpfs mount here: " + e.getMessage());
            return;
        }
        Path dir = tmpfs.dir();
        try (tmpfs) {
            String port = start(logs, "master", List.of(), MasterMain.class).field("port");
            String master = "127.0.0.1:" + port;
            ChildProcess node = start(logs, "store-1", List.of(), StoreNodeMain.class, "--node-id", "store-1",
                    "--master", master, "--capacity", Long.toString(CAPACITY), "--slab-dir", dir.toString());
            ChildProcess sidecar = start(logs, "sidecar", List.of("env", "FERRY_SLAB_DIR=" + dir), SidecarMain.class,
                    "--socket", logs.resolve("sidecar.sock").toString(), "--master", master, "--node-id", "sidecar-1",
                    "--capacity", Long.toString(CAPACITY), "--exit-on-stdin-close");
            for (ChildProcess p : List.of(node, sidecar)) {
                assertThat(Path.of(p.field("file")).getParent()).as(p.name()).isEqualTo(dir);
                assertThat(p.field("page_size")).as(p.name()).isEqualTo("2MiB");
            }
            long[] keys = LongStream.rangeClosed(1, 16).toArray();
            try (MasterClient masterClient = new MasterClient("127.0.0.1", Integer.parseInt(port), 5_000);
                 TransferEngine engine = new TransferEngine(new TransferEngine.Context().sharedMemory(true)
                         .resolver(masterClient));
                 Slab staging = Slab.allocate(8 * BLOCK);
                 StoreClient store = new StoreClient(masterClient, engine, 10_000, 1, "store-1/dram")) {
                store.put(BlockKey.ofAll(keys), BLOCK, staging.memory(), BlockContent::fill);
                List<Long> seen = new ArrayList<>();
                store.get(BlockKey.ofAll(keys), BLOCK, staging.memory(), (key, bytes, crc) -> {
                    assertThat(BlockContent.firstMismatch(key, bytes)).as("block %s", key).isEqualTo(-1);
                    seen.add(key.narrow());
                });
                assertThat(seen).hasSize(keys.length);
                // Both ways through this process's mapping of the slab file in the directory.
                assertThat(engine.sharedMemoryBytes()).isGreaterThanOrEqualTo(2 * keys.length * BLOCK);
            }
            stop();
            processes.clear();
            try (var left = Files.list(dir)) {
                assertThat(left).as("slab files left in " + dir).isEmpty();
            }
        }
        assertThat(Files.readAllLines(Path.of("/proc/mounts"))).noneMatch(line -> line.contains(" " + dir + " "));
        assertThat(dir).doesNotExist();
    }
}
