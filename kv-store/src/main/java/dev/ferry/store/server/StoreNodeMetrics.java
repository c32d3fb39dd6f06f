package dev.ferry.store.server;

import dev.ferry.store.node.NodeUsage;
import dev.ferry.store.node.StoreNode;
import dev.ferry.store.tier.SsdHealth;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * A store node's meters (Micrometer), the tier figures read from one {@link NodeUsage} taken
 * by {@link #refresh()} before each scrape. Names as Prometheus shows them
 * (docs/operations.md, "Metrics"):
 * <ul>
 *   <li>{@code ferry_node_slab_bytes{state="used"|"free"}}, {@code ferry_node_blocks{tier="dram"|"ssd"}},
 *       {@code ferry_node_tier_bytes{tier}}, {@code ferry_node_ssd_capacity_bytes},
 *       {@code ferry_node_ssd_health{state="ok"|"full"|"failing"}} (1 for the current state),
 *       {@code ferry_node_registered} (1 while registered with a master) (gauges);</li>
 *   <li>{@code ferry_node_scrub_blocks_total}, {@code ferry_node_scrub_bytes_total},
 *       {@code ferry_node_scrub_corrupt_total}, {@code ferry_node_ssd_refused_writes_total},
 *       {@code ferry_node_served_bytes_total{direction="read"|"write",transport="tcp"}}: bytes
 *       peers read from or wrote into this node's slab over TCP (counters).</li>
 * </ul>
 * The node's transfer engine adds its own ({@code ferry_transfer_*}, {@code ferry_link_*})
 * when it was given the same registry.
 *
 * <p>Thread-safe.
 */
public final class StoreNodeMetrics {
    private final StoreNode node;
    private volatile NodeUsage now;

    /** Registers the meters of {@code node} in {@code registry}. */
    public StoreNodeMetrics(MeterRegistry registry, StoreNode node) {
        this.node = node;
        refresh();
        gaugeBytes(registry, "ferry.node.slab", "state", "used", "slab bytes holding committed blocks",
                NodeUsage::dramBytes);
        gaugeBytes(registry, "ferry.node.slab", "state", "free", "slab bytes holding no committed block",
                NodeUsage::slabFreeBytes);
        gauge(registry, "ferry.node.blocks", "tier", "dram", "committed blocks in the slab", NodeUsage::dramBlocks);
        gauge(registry, "ferry.node.blocks", "tier", "ssd", "blocks on the SSD tier", NodeUsage::ssdBlocks);
        gaugeBytes(registry, "ferry.node.tier", "tier", "dram", "bytes of the blocks in the slab", NodeUsage::dramBytes);
        gaugeBytes(registry, "ferry.node.tier", "tier", "ssd", "bytes of the blocks on the SSD tier",
                NodeUsage::ssdBytes);
        gaugeBytes(registry, "ferry.node.ssd.capacity", null, null, "the SSD tier's capacity (0 without one)",
                NodeUsage::ssdCapacity);
        for (SsdHealth state : SsdHealth.values()) {
            Gauge.builder("ferry.node.ssd.health", node, n -> n.ssdHealth() == state ? 1 : 0)
                    .tag("state", state.name().toLowerCase(Locale.ROOT))
                    .description("1 for the SSD tier's state now (ok without an SSD tier)").register(registry);
        }
        Gauge.builder("ferry.node.registered", node, n -> n.registered() ? 1 : 0)
                .description("1 while registered with a reachable master").register(registry);
        counter(registry, "ferry.node.scrub.blocks", "blocks the scrub checked", StoreNode::scrubbedBlocks);
        counter(registry, "ferry.node.scrub.bytes", "bytes the scrub checked", StoreNode::scrubbedBytes);
        counter(registry, "ferry.node.scrub.corrupt", "corrupt copies the scrub found", StoreNode::scrubCorrupt);
        counter(registry, "ferry.node.ssd.refused.writes", "writes the SSD tier refused (disk full or failing)",
                StoreNode::refusedSsdWrites);
        FunctionCounter.builder("ferry.node.served", node, n -> n.engine().tcpCounters().bytesRead()).baseUnit("bytes")
                .tags("direction", "read", "transport", "tcp").description("bytes peers read from the slab")
                .register(registry);
        FunctionCounter.builder("ferry.node.served", node, n -> n.engine().tcpCounters().bytesWritten())
                .baseUnit("bytes").tags("direction", "write", "transport", "tcp")
                .description("bytes peers wrote into the slab").register(registry);
    }

    /** Reads the node's tiers for the next scrape (walks its resident blocks). */
    public void refresh() {
        now = node.usage();
    }

    private void gauge(MeterRegistry registry, String name, String tag, String value, String description,
                       ToDoubleFunction<NodeUsage> read) {
        Gauge.builder(name, this, m -> read.applyAsDouble(m.now)).tag(tag, value).description(description)
                .register(registry);
    }

    private void gaugeBytes(MeterRegistry registry, String name, String tag, String value, String description,
                            ToDoubleFunction<NodeUsage> read) {
        Gauge.Builder<StoreNodeMetrics> b = Gauge.builder(name, this, m -> read.applyAsDouble(m.now)).baseUnit("bytes")
                .description(description);
        if (tag != null) {
            b.tag(tag, value);
        }
        b.register(registry);
    }

    private void counter(MeterRegistry registry, String name, String description, ToDoubleFunction<StoreNode> read) {
        FunctionCounter.builder(name, node, read).description(description).register(registry);
    }
}
