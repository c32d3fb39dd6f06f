package dev.ferry.store.server;

import dev.ferry.store.master.Master;
import dev.ferry.store.master.MasterRole;
import dev.ferry.store.master.MasterStats;
import dev.ferry.store.master.TierUsage;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * A master's meters (Micrometer), read from one snapshot of the master taken by
 * {@link #refresh()} before each scrape, so that the values of one scrape agree. Names as
 * Prometheus shows them (docs/operations.md, "Metrics"):
 * <ul>
 *   <li>{@code ferry_master_leader} (1 leader, 0 standby), {@code ferry_master_epoch},
 *       {@code ferry_master_takeovers_total}: from the {@link MasterRole} supplier;</li>
 *   <li>{@code ferry_master_nodes}, {@code ferry_master_leases},
 *       {@code ferry_master_blocks{tier="dram"|"ssd"}}, {@code ferry_master_tier_bytes{tier}},
 *       {@code ferry_master_blocks_pending}, {@code ferry_master_blocks_under_replicated},
 *       {@code ferry_master_blocks_pinned}, {@code ferry_master_capacity_bytes},
 *       {@code ferry_master_used_bytes}, {@code ferry_master_index_backlog} (gauges);</li>
 *   <li>{@code ferry_master_evictions_total}, {@code ferry_master_demotions_total},
 *       {@code ferry_master_promotions_total}, {@code ferry_master_lost_blocks_total},
 *       {@code ferry_master_corrupt_copies_total}, {@code ferry_master_write_stalls_total},
 *       {@code ferry_master_hits_total{tier}} (counters);</li>
 *   <li>{@code ferry_master_gpu_copies{engine}}: blocks each engine reports its GPU tier holds
 *       (a gauge per engine while it holds any).</li>
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class MasterMetrics {
    private final Supplier<Master> master;
    private final Supplier<MasterRole> role;
    private volatile Snapshot now;

    /** The state one scrape shows. */
    private record Snapshot(MasterStats stats, TierUsage tiers, MasterRole role, long gpuCopiesLost,
                            java.util.Map<String, Integer> gpuCopies) {
    }

    private final MultiGauge gpuCopies;

    /**
     * Registers the meters in {@code registry}.
     *
     * @param master the master's state now (a new one each term under leader election)
     * @param role this master's role now: {@link MasterRole#SOLE} without leader election;
     *             leader election supplies the live one
     */
    public MasterMetrics(MeterRegistry registry, Supplier<Master> master, Supplier<MasterRole> role) {
        this.master = master;
        this.role = role;
        refresh();
        gauge(registry, "ferry.master.leader", null, "1 while this master leads, 0 as a standby",
                s -> s.role().leader() ? 1 : 0);
        gauge(registry, "ferry.master.epoch", null, "epoch of the leadership held or last seen (0 without election)",
                s -> s.role().epoch());
        counter(registry, "ferry.master.takeovers", "terms this master has led since it started",
                s -> s.role().takeovers());
        gauge(registry, "ferry.master.nodes", null, "live store nodes", s -> s.stats().nodes());
        gauge(registry, "ferry.master.leases", null, "leases held", s -> s.stats().leases());
        gauge(registry, "ferry.master.blocks", "dram", "committed blocks with a copy readable from DRAM",
                s -> s.tiers().dramBlocks());
        gauge(registry, "ferry.master.blocks", "ssd", "committed blocks with a copy on an SSD tier",
                s -> s.tiers().ssdBlocks());
        gaugeBytes(registry, "ferry.master.tier", "dram", "bytes of the copies readable from DRAM",
                s -> s.tiers().dramBytes());
        gaugeBytes(registry, "ferry.master.tier", "ssd", "bytes of the copies on SSD tiers", s -> s.tiers().ssdBytes());
        gauge(registry, "ferry.master.blocks.pending", null, "blocks allocated by a put, not committed yet",
                s -> s.stats().pendingBlocks());
        gauge(registry, "ferry.master.blocks.under.replicated", null, "committed blocks with fewer copies than asked",
                s -> s.stats().underReplicated());
        gauge(registry, "ferry.master.blocks.pinned", null, "blocks under a hard or unexpired soft pin",
                s -> s.stats().pinnedBlocks());
        gaugeBytes(registry, "ferry.master.capacity", null, "bytes of all registered DRAM segments",
                s -> s.stats().capacityBytes());
        gaugeBytes(registry, "ferry.master.used", null, "DRAM bytes allocated (every replica, puts in flight too)",
                s -> s.stats().usedBytes());
        gauge(registry, "ferry.master.index.backlog", null, "index updates sent to nodes and not acknowledged",
                s -> s.stats().indexBacklog());
        counter(registry, "ferry.master.evictions", "blocks evicted", s -> s.stats().evictions());
        counter(registry, "ferry.master.demotions", "blocks written from DRAM to SSD", s -> s.stats().demotions());
        counter(registry, "ferry.master.promotions", "blocks given DRAM to be loaded into from SSD",
                s -> s.stats().promotions());
        counter(registry, "ferry.master.lost.blocks", "blocks dropped with the last node holding them",
                s -> s.stats().lostBlocks());
        counter(registry, "ferry.master.gpu.copies.lost", "blocks that engines' GPU tiers lost with their processes, "
                + "as the restarted engines reported them (GPU_LOST)", Snapshot::gpuCopiesLost);
        counter(registry, "ferry.master.corrupt.copies", "copies dropped for failing their CRC32C",
                s -> s.stats().corruptCopies());
        counter(registry, "ferry.master.write.stalls", "puts answered busy while DRAM was full and blocks were "
                + "being demoted", s -> s.stats().demotionWaits());
        FunctionCounter.builder("ferry.master.hits", this, m -> m.now.stats().dramHits()).tag("tier", "dram")
                .description("prefix-lookup hits on blocks readable from DRAM").register(registry);
        FunctionCounter.builder("ferry.master.hits", this, m -> m.now.stats().ssdHits()).tag("tier", "ssd")
                .description("prefix-lookup hits on blocks only on SSD").register(registry);
        gpuCopies = MultiGauge.builder("ferry.master.gpu.copies")
                .description("blocks held in an engine's GPU tier, as the engine reports them (GPU_HELD)")
                .register(registry);
        showGpuCopies();
    }

    /** One gauge per engine that holds GPU copies now; an engine gone is removed. */
    private void showGpuCopies() {
        if (gpuCopies == null) {
            return; // the first refresh, from the constructor
        }
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        now.gpuCopies().forEach((engine, n) -> rows.add(MultiGauge.Row.of(Tags.of("engine", engine), n)));
        gpuCopies.register(rows, true);
    }

    /** Takes the snapshot the meters show (one walk of the master's blocks). */
    public void refresh() {
        Master m = master.get();
        now = new Snapshot(m.stats(), m.tierUsage(), role.get(), m.gpuCopiesLost(), m.gpuCopiesPerEngine());
        showGpuCopies();
    }

    private void gauge(MeterRegistry registry, String name, String tier, String description,
                       ToDoubleFunction<Snapshot> value) {
        Gauge.Builder<MasterMetrics> b = Gauge.builder(name, this, m -> value.applyAsDouble(m.now)).description(description);
        if (tier != null) {
            b.tag("tier", tier);
        }
        b.register(registry);
    }

    private void gaugeBytes(MeterRegistry registry, String name, String tier, String description,
                            ToDoubleFunction<Snapshot> value) {
        Gauge.Builder<MasterMetrics> b = Gauge.builder(name, this, m -> value.applyAsDouble(m.now)).baseUnit("bytes")
                .description(description);
        if (tier != null) {
            b.tag("tier", tier);
        }
        b.register(registry);
    }

    private void counter(MeterRegistry registry, String name, String description, ToDoubleFunction<Snapshot> value) {
        FunctionCounter.builder(name, this, m -> value.applyAsDouble(m.now)).description(description).register(registry);
    }
}
