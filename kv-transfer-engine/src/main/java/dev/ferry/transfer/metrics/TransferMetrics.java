package dev.ferry.transfer.metrics;

import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.LinkState;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Publishes a transfer engine's measurements through Micrometer, read from the engine's own
 * counters when the registry is scraped (nothing is counted twice on the hot path).
 * Names, all tagged {@code engine}:
 * <ul>
 *   <li>{@code ferry.transfer.slices.sent}, {@code ferry.transfer.slices.retried},
 *       {@code ferry.transfer.requests.failed} (counters);</li>
 *   <li>{@code ferry.transfer.shm.bytes} (counter): bytes moved through shared memory;</li>
 *   <li>{@code ferry.transfer.shm.populated.bytes}, {@code ferry.transfer.shm.populate.millis},
 *       {@code ferry.transfer.shm.populate.failures} (counters): populating this process's
 *       mappings of other processes' slabs;</li>
 *   <li>per network transport, tagged {@code transport} ({@code tcp}, {@code aeron}), what its
 *       serving side did: {@code ferry.transfer.served.bytes.written},
 *       {@code ferry.transfer.served.bytes.read}, {@code ferry.transfer.served.crc.mismatches},
 *       {@code ferry.transfer.served.refusals} (counters);</li>
 *   <li>with Aeron, its duty cycles' counters {@code ferry.transfer.aeron.*} (see the engine);</li>
 *   <li>per link, tagged {@code link} and {@code transport}: {@code ferry.link.bytes},
 *       {@code ferry.link.slices}, {@code ferry.link.failures} (counters),
 *       {@code ferry.link.inflight.bytes}, {@code ferry.link.bandwidth} (EWMA, bytes/s),
 *       {@code ferry.link.latency} (EWMA of round trip less transmission, seconds),
 *       {@code ferry.link.up} (1 up, 0 down or quarantined) and {@code ferry.link.state}
 *       (one gauge per {@link LinkState}, tagged {@code state}: 1 for the current one)
 *       (gauges).</li>
 * </ul>
 * Thread-safe.
 */
public final class TransferMetrics {
    private final MeterRegistry registry;
    private final Tags tags;

    /** @param engine a name for this engine, the value of tag {@code engine} */
    public TransferMetrics(MeterRegistry registry, String engine) {
        this.registry = registry;
        this.tags = Tags.of("engine", engine);
    }

    /** Registers an engine-wide counter read from {@code source}. */
    public <T> void counter(String name, String description, T source, ToDoubleFunction<T> value) {
        FunctionCounter.builder(name, source, value).tags(tags).description(description).register(registry);
    }

    /** Registers a counter of one transport, tagged {@code transport}, read from {@code source}. */
    public <T> void counter(String name, String description, String transport, T source, ToDoubleFunction<T> value) {
        FunctionCounter.builder(name, source, value).tags(tags.and("transport", transport)).description(description)
                .register(registry);
    }

    /** Registers the meters of one link. */
    public void link(Link link, String transport) {
        Tags t = tags.and("link", link.name(), "transport", transport);
        FunctionCounter.builder("ferry.link.bytes", link, l -> l.estimator().bytes()).tags(t).baseUnit("bytes")
                .description("bytes completed on the link").register(registry);
        FunctionCounter.builder("ferry.link.slices", link, l -> l.estimator().slices()).tags(t)
                .description("slices completed on the link").register(registry);
        FunctionCounter.builder("ferry.link.failures", link, l -> l.estimator().failures()).tags(t)
                .description("slices that failed on the link").register(registry);
        Gauge.builder("ferry.link.inflight.bytes", link, Link::inFlightBytes).tags(t).baseUnit("bytes")
                .description("bytes sent and not yet answered").register(registry);
        Gauge.builder("ferry.link.bandwidth", link, l -> {
            double bytesPerNano = l.estimator().bytesPerNano();
            return Double.isNaN(bytesPerNano) ? 0 : bytesPerNano * 1e9;
        }).tags(t).baseUnit("bytes/s").description("EWMA of the measured service rate").register(registry);
        Gauge.builder("ferry.link.latency", link, l -> {
            double nanos = l.estimator().latencyNanos();
            return Double.isNaN(nanos) ? 0 : nanos / 1e9;
        }).tags(t).baseUnit("seconds").description("EWMA of the measured round trip less transmission")
                .register(registry);
        Gauge.builder("ferry.link.up", link, l -> l.isUp() ? 1 : 0).tags(t)
                .description("1 when the link takes slices, 0 when down or quarantined").register(registry);
        for (LinkState state : LinkState.values()) {
            Gauge.builder("ferry.link.state", link, l -> l.state() == state ? 1 : 0).tags(t.and("state",
                    state.name().toLowerCase(Locale.ROOT)))
                    .description("1 for the link's current state (up, quarantined, probing), 0 for the others")
                    .register(registry);
        }
    }
}
