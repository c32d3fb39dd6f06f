package dev.ferry.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.metrics.LinkTraffic;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.TransferException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class NotificationAndMetricsTest {
    private record Note(String segment, String text) {
    }

    @Test
    void notificationsReachTheTargetsListenerAfterTheData() throws Exception {
        LinkedBlockingQueue<Note> received = new LinkedBlockingQueue<>();
        try (Slab remote = Slab.allocate(8 << 20); Slab local = Slab.allocate(8 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().notificationListener(
                     (segment, message) -> received.add(new Note(segment, new String(message, StandardCharsets.UTF_8)))))) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().resolver(n -> {
                if (!n.equals("t")) {
                    throw new TransferException("unknown segment '" + n + "'", false);
                }
                return d;
            }))) {
                local.memory().fill((byte) 9);
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 8 << 20))).await();
                initiator.notify("t", "request 7: 16 blocks ready".getBytes(StandardCharsets.UTF_8))
                        .get(5, TimeUnit.SECONDS);
                Note note = received.poll(5, TimeUnit.SECONDS);
                assertThat(note).isEqualTo(new Note("t", "request 7: 16 blocks ready"));
                // What the notification announces is in place when it arrives.
                assertThat(remote.memory().mismatch(local.memory())).isEqualTo(-1);

                assertThatThrownBy(() -> initiator.notify("t", new byte[TransferEngine.MAX_NOTIFICATION_BYTES + 1]))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 to 65536 bytes");
                assertThatThrownBy(() -> initiator.notify("nope", new byte[1])).isInstanceOf(TransferException.class)
                        .hasMessageContaining("unknown segment 'nope'");
            }
        }
    }

    @Test
    void linksAndTheEnginePublishTheirMeasurements() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Slab remote = Slab.allocate(16 << 20); Slab local = Slab.allocate(16 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(2)
                    .metrics(registry, "prefill").resolver(n -> d))) {
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 16 << 20))).await();
                double linkBytes = registry.find("ferry.link.bytes").tag("engine", "prefill").functionCounters()
                        .stream().mapToDouble(c -> c.count()).sum();
                assertThat(linkBytes).isEqualTo(16 << 20);
                assertThat(registry.find("ferry.link.up").gauges()).hasSize(2)
                        .allSatisfy(g -> assertThat(g.value()).isEqualTo(1.0));
                assertThat(registry.find("ferry.link.bandwidth").gauges())
                        .anySatisfy(g -> assertThat(g.value()).isPositive());
                assertThat(registry.find("ferry.link.latency").gauges()).hasSize(2)
                        .allSatisfy(g -> assertThat(g.value()).isGreaterThanOrEqualTo(0.0).isLessThan(1.0));
                assertThat(registry.get("ferry.transfer.slices.sent").functionCounter().count()).isPositive();
                assertThat(registry.get("ferry.transfer.requests.failed").functionCounter().count()).isZero();
                assertThat(registry.get("ferry.transfer.served.refusals").tag("transport", "tcp").functionCounter()
                        .count()).isZero();
            }
        }
    }

    @Test
    void theAeronTransportPublishesWhatItServedAndWhatWentWrongInItsDutyCycles() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Slab remote = Slab.allocate(4 << 20); Slab local = Slab.allocate(4 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().aeron(true)
                     .metrics(registry, "decode"))) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().aeron(true)
                    .resolver(n -> d))) {
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 4 << 20))).await();
                assertThat(registry.get("ferry.transfer.served.bytes.written").tag("transport", "aeron")
                        .functionCounter().count()).isEqualTo(4 << 20);
                assertThat(registry.get("ferry.transfer.served.bytes.written").tag("transport", "tcp")
                        .functionCounter().count()).isZero();
                assertThat(registry.get("ferry.transfer.aeron.errors").functionCounter().count()).isZero();
                assertThat(registry.get("ferry.transfer.aeron.answers.dropped").functionCounter().count()).isZero();
            }
        }
    }

    @Test
    void trafficSnapshotsWhatEachLinkCarriedWithoutARegistry() {
        try (Slab remote = Slab.allocate(16 << 20); Slab local = Slab.allocate(16 << 20);
             TransferEngine target = new TransferEngine(new TransferEngine.Context())) {
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(2)
                    .resolver(n -> d))) {
                assertThat(initiator.traffic()).containsExactly(new LinkTraffic("shm", "shared-memory", 0, 0));
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 16 << 20))).await();
                initiator.submit(List.of(TransferRequest.read(local.memory(), 0, "t", 0, 4 << 20))).await();
                List<LinkTraffic> traffic = initiator.traffic();
                assertThat(traffic).filteredOn(l -> l.transport().equals(LinkTraffic.TCP)).hasSize(2)
                        .allSatisfy(l -> assertThat(l.slices()).isPositive());
                assertThat(traffic.stream().filter(l -> l.transport().equals(LinkTraffic.TCP))
                        .mapToLong(LinkTraffic::bytes).sum()).isEqualTo(20 << 20);
                assertThat(traffic).last().isEqualTo(new LinkTraffic("shm", "shared-memory", 0, 0));
            }
        }
    }

    @Test
    void eachLinkReportsItsStateUpThenQuarantinedWhenItsPeerIsGone() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Slab remote = Slab.allocate(1 << 20); Slab local = Slab.allocate(1 << 20)) {
            TransferEngine target = new TransferEngine(new TransferEngine.Context());
            boolean targetOpen = true;
            SegmentDescriptor d = target.registerSegment("t", remote.memory());
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().linksPerPeer(2)
                    .metrics(registry, "decode").resolver(n -> d))) {
                initiator.submit(List.of(TransferRequest.write(local.memory(), 0, "t", 0, 1 << 20))).await();
                assertThat(registry.find("ferry.link.state").tag("state", "up").gauges()).hasSize(2)
                        .allSatisfy(g -> assertThat(g.value()).isEqualTo(1.0));
                assertThat(registry.find("ferry.link.state").tag("state", "quarantined").gauges())
                        .allSatisfy(g -> assertThat(g.value()).isZero());

                target.close();
                targetOpen = false;
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                        assertThat(registry.find("ferry.link.state").tag("state", "quarantined").gauges()).hasSize(2)
                                .allSatisfy(g -> assertThat(g.value()).isEqualTo(1.0)));
                assertThat(registry.find("ferry.link.state").tag("state", "up").gauges())
                        .allSatisfy(g -> assertThat(g.value()).isZero());
            } finally {
                if (targetOpen) {
                    target.close();
                }
            }
        }
    }
}
