package dev.ferry.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.segment.SegmentResolver;
import dev.ferry.transfer.slice.TransferException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Cancellation, deadlines, priorities and a peer that restarts elsewhere. */
class RequestLifecycleTest {
    @Test
    void cancelledRequestsReportCancelledAndTheEngineGoesOn() throws Exception {
        try (ServerSocket silent = silentPeer(); Slab remote = Slab.allocate(1 << 20); Slab local = Slab.allocate(1 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            Map<String, SegmentDescriptor> directory = Map.of(
                    "silent", new SegmentDescriptor("silent", 1 << 20, new Endpoint("127.0.0.1", silent.getLocalPort())),
                    "t", target.registerSegment("t", remote.memory()));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().stallTimeoutMillis(30_000)
                    .resolver(directory::get))) {
                BatchHandle handle = initiator.submit(List.of(
                        TransferRequest.read(local.memory(), 0, "silent", 0, 4096),
                        TransferRequest.write(local.memory(), 0, "silent", 0, 4096)));
                assertThat(handle.status(0)).isEqualTo(TransferStatus.PENDING);
                assertThat(handle.cancel()).isEqualTo(2);
                assertThat(handle.status(0)).isEqualTo(TransferStatus.CANCELLED);
                assertThat(handle.status(1)).isEqualTo(TransferStatus.CANCELLED);
                assertThatThrownBy(handle::await).hasMessageContaining("cancelled");
                BatchHandle next = initiator.submit(List.of(TransferRequest.read(local.memory(), 0, "t", 0, 1 << 20)));
                next.await();
                assertThat(next.status(0)).isEqualTo(TransferStatus.COMPLETED);
            }
        }
    }

    /** A TCP peer that accepts connections and never answers. */
    private static ServerSocket silentPeer() throws java.io.IOException {
        ServerSocket silent = new ServerSocket(0);
        Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    silent.accept();
                }
            } catch (Exception ignored) {
                // closed
            }
        });
        return silent;
    }

    @Test
    void aPeerThatNeverAnswersTimesOutAtTheDeadline() throws Exception {
        try (ServerSocket silent = silentPeer()) {
            SegmentDescriptor d = new SegmentDescriptor("silent", 1 << 20, new Endpoint("127.0.0.1", silent.getLocalPort()));
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().stallTimeoutMillis(30_000)
                    .resolver(n -> d))) {
                java.lang.foreign.MemorySegment buf = java.lang.foreign.MemorySegment.ofArray(new byte[4096]);
                BatchHandle handle = initiator.submit(List.of(TransferRequest.read(buf, 0, "silent", 0, 4096)
                        .withTimeout(Duration.ofMillis(300))));
                assertThat(handle.completion()).failsWithin(5, TimeUnit.SECONDS);
                assertThat(handle.status(0)).isEqualTo(TransferStatus.TIMED_OUT);
                assertThatThrownBy(handle::await).isInstanceOf(TransferTimeoutException.class)
                        .hasMessageContaining("deadline");
            }
        }
    }

    @Test
    void priorityOutOfRangeIsRefused() {
        assertThatThrownBy(() -> TransferRequest.read(java.lang.foreign.MemorySegment.ofArray(new byte[8]), 0, "t", 0, 8)
                .withPriority(7)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("priority");
    }

    @Test
    void aPeerThatRestartsWithANewDescriptorIsFoundAgain() {
        Map<String, SegmentDescriptor> directory = new ConcurrentHashMap<>();
        AtomicInteger invalidations = new AtomicInteger();
        SegmentResolver caching = new SegmentResolver() {
            private final Map<String, SegmentDescriptor> cache = new ConcurrentHashMap<>();

            @Override
            public SegmentDescriptor resolve(String name) {
                return cache.computeIfAbsent(name, directory::get);
            }

            @Override
            public void invalidate(String name) {
                invalidations.incrementAndGet();
                cache.remove(name);
            }
        };
        try (Slab remote = Slab.allocate(1 << 20); Slab local = Slab.allocate(1 << 20);
             TransferEngine initiator = new TransferEngine(new TransferEngine.Context().resolver(caching))) {
            TransferEngine first = new TransferEngine(new TransferEngine.Context());
            directory.put("t", first.registerSegment("t", remote.memory()));
            initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 4096))).await();
            first.close();
            try (TransferEngine second = new TransferEngine(new TransferEngine.Context())) {
                directory.put("t", second.registerSegment("t", remote.memory()));
                assertThatThrownBy(() -> initiator.submit(List.of(TransferRequest.read(local.memory(), 0, "t", 0, 4096)))
                        .await()).isInstanceOf(TransferException.class);
                assertThat(invalidations.get()).isPositive();
                initiator.submit(List.of(TransferRequest.read(local.memory(), 0, "t", 0, 4096))).await();
            }
        }
    }
}
