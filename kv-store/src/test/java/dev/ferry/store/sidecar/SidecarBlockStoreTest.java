package dev.ferry.store.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.client.GetResult;
import dev.ferry.store.client.PutResult;
import dev.ferry.store.client.StoreException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** The nodes' store through a real sidecar: windows of blocks through shared buffers, lanes at once. */
class SidecarBlockStoreTest {
    private static final long BLOCK = 64 * 1024;

    @Test
    void putsAndGetsWholeRequestsWindowByWindowAndSaysWhatIsMissing() throws Exception {
        try (SidecarFixture fx = new SidecarFixture(c -> c);
             SidecarBlockStore store = SidecarBlockStore.connect(fx.sidecar.socketPath(),
                     3 * BLOCK, 2)) {
            try (var files = Files.list(Path.of("/dev/shm"))) { // unlinked once registered: a crash leaves nothing
                assertThat(files.map(Path::toString)).noneMatch(p -> p.contains("ferry-client-"
                        + ProcessHandle.current().pid()));
            }
            BlockKey[] keys = BlockKey.ofAll(LongStream.rangeClosed(1, 7).toArray()); // three windows: 3 + 3 + 1
            PutResult put = store.put(keys, BLOCK, BlockContent::fill);
            assertThat(put.written()).isEqualTo(7);
            assertThat(put.bytes()).isEqualTo(7 * BLOCK);
            assertThat(store.put(BlockKey.ofAll(7, 8), BLOCK, BlockContent::fill).existed()).isEqualTo(1);
            assertThat(store.lookupPrefix(BlockKey.ofAll(1, 2, 3, 99, 4))).isEqualTo(3);

            // Two requests at once, one per lane; every byte arrives.
            ExecutorService pool = Executors.newFixedThreadPool(2);
            List<Future<List<Long>>> reads = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                reads.add(pool.submit(() -> {
                    List<Long> bad = new ArrayList<>();
                    GetResult got = store.get(BlockKey.ofAll(LongStream.rangeClosed(1, 8).toArray()), BLOCK, (key, bytes, crc) -> {
                        if (BlockContent.firstMismatch(key, bytes) >= 0 || crc != BlockContent.crc32c(bytes)) {
                            bad.add(key.narrow());
                        }
                    });
                    assertThat(got.blocks()).isEqualTo(8);
                    assertThat(got.bytes()).isEqualTo(8 * BLOCK);
                    return bad;
                }));
            }
            for (Future<List<Long>> read : reads) {
                assertThat(read.get()).isEmpty();
            }
            pool.shutdown();
            assertThatThrownBy(() -> store.get(BlockKey.ofAll(1, 42), BLOCK, (k, b, c) -> { }))
                    .isInstanceOf(StoreException.class).hasMessageContaining("block key " + BlockKey.of(42) + " is not in the store");
            assertThatThrownBy(() -> store.put(BlockKey.ofAll(50), 4 * BLOCK, BlockContent::fill))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot hold a block");
        }
    }

    @Test
    void anUnreachableSidecarIsAClearError() throws IOException {
        Path dir = Files.createTempDirectory("ferry-nosc");
        try {
            assertThatThrownBy(() -> SidecarBlockStore.connect(dir.resolve("none.sock"), BLOCK, 1))
                    .hasMessageContaining("cannot connect to the sidecar");
        } finally {
            Files.deleteIfExists(dir);
        }
    }
}
