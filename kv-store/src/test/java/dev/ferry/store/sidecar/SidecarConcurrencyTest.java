package dev.ferry.store.sidecar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.store.block.BlockContent;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Many clients, each on its own connection and buffer, putting, getting and removing
 * overlapping keys in a store too small for all of them (so blocks are evicted under the
 * readers' feet): every block a get returns is verified byte for byte, and afterwards no
 * lease, pending block or buffer is left.
 */
class SidecarConcurrencyTest {
    private static final int CLIENTS = 8;
    private static final int OPS = 300;
    private static final long BLOCK = 64 * 1024;

    @Test
    void concurrentClientsOnOverlappingKeysSeeOnlyWholeCorrectBlocks() throws Exception {
        AtomicInteger hits = new AtomicInteger();
        AtomicInteger stored = new AtomicInteger();
        try (SidecarFixture fx = new SidecarFixture(c -> c.capacityBytes(24 * BLOCK).maxInFlight(4))) {
            List<Future<?>> clients = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(CLIENTS)) {
                for (int t = 0; t < CLIENTS; t++) {
                    long seed = 1_000 + t;
                    clients.add(pool.submit(() -> {
                        run(fx, new Random(seed), hits, stored);
                        return null;
                    }));
                }
                for (Future<?> f : clients) {
                    f.get();
                }
            }
            assertThat(hits.get()).isPositive();
            assertThat(stored.get()).isPositive();
            // Releases that need no answer may still be on their way.
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.masterStats().leases() == 0);
            assertThat(fx.masterStats().pendingBlocks()).isZero();
            org.awaitility.Awaitility.await().until(() -> fx.meter("ferry.sidecar.connections") == 0);
            assertThat(fx.meter("ferry.sidecar.buffers.bytes")).isZero();
        }
    }

    private static void run(SidecarFixture fx, Random random, AtomicInteger hits, AtomicInteger stored)
            throws IOException {
        try (SidecarClient c = fx.client(); ShmFile shm = new ShmFile(8 * BLOCK)) {
            int buffer = c.registerBuffer(shm.path, shm.bytes);
            for (int i = 0; i < OPS; i++) {
                long key = random.nextInt(40);
                int slot = random.nextInt(4);
                switch (random.nextInt(5)) {
                    case 0, 1 -> {
                        BlockContent.fill(key, shm.slice(slot * BLOCK, BLOCK));
                        if (c.put(new long[] {key}, buffer, new long[] {slot * BLOCK}, new long[] {BLOCK})[0] == 0) {
                            stored.incrementAndGet();
                        }
                    }
                    case 2, 3 -> {
                        long at = (4 + slot) * BLOCK;
                        long length = c.get(key, buffer, at, BLOCK);
                        if (length >= 0) {
                            assertThat(length).isEqualTo(BLOCK);
                            assertThat(BlockContent.firstMismatch(key, shm.slice(at, BLOCK))).as("key %d", key)
                                    .isEqualTo(-1);
                            hits.incrementAndGet();
                        }
                    }
                    default -> c.remove(key);
                }
            }
        }
    }
}
