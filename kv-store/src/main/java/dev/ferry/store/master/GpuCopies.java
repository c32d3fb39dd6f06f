package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Which blocks each engine holds in its GPU tier, as the engines report it ({@code GPU_HELD}):
 * a locality map beside the block table, not replicas (a GPU copy is never a source of a store
 * read, and every one has a DRAM or SSD copy). An engine silent longer than the timeout is taken
 * for dead and its copies dropped; an engine that restarts reports {@code GPU_LOST}, which drops
 * them too.
 *
 * <p>Not thread-safe: the {@link Master} calls it under its lock.
 */
final class GpuCopies {
    private final Map<String, Engine> engines = new HashMap<>();
    private final Map<BlockKey, Set<String>> holders = new HashMap<>();

    private static final class Engine {
        final Set<BlockKey> keys = new HashSet<>();
        long lastReport;
    }

    /**
     * Applies an engine's report: with {@code full}, {@code added} is everything it holds (what
     * the master had for it is replaced), else the changes since its last report.
     *
     * @param now the master's clock, ns
     * @return how many copies the master now has for the engine (the engine resends its whole
     *         set when this differs from its own count)
     */
    int report(String engine, boolean full, BlockKey[] added, BlockKey[] dropped, long now) {
        Engine e = engines.computeIfAbsent(engine, k -> new Engine());
        e.lastReport = now;
        if (full) {
            clear(engine, e);
        }
        for (BlockKey k : dropped) {
            if (e.keys.remove(k)) {
                unhold(k, engine);
            }
        }
        for (BlockKey k : added) {
            if (e.keys.add(k)) {
                holders.computeIfAbsent(k, x -> new HashSet<>(2)).add(engine);
            }
        }
        if (e.keys.isEmpty() && full && added.length == 0) {
            engines.remove(engine); // an engine that holds nothing (e.g. one that closed) is forgotten
        }
        return e.keys.size();
    }

    /**
     * Drops every copy of {@code engine} (its process ended).
     *
     * @return how many there were
     */
    int drop(String engine) {
        Engine e = engines.remove(engine);
        if (e == null) {
            return 0;
        }
        int n = e.keys.size();
        clear(engine, e);
        return n;
    }

    /**
     * Drops the engines that have not reported for longer than {@code timeoutNanos}.
     *
     * @return their names
     */
    List<String> expire(long now, long timeoutNanos) {
        List<String> silent = new ArrayList<>();
        for (Map.Entry<String, Engine> e : engines.entrySet()) {
            if (now - e.getValue().lastReport > timeoutNanos) {
                silent.add(e.getKey());
            }
        }
        for (String engine : silent) {
            drop(engine);
        }
        return silent;
    }

    /** The engines holding {@code key} in their GPU tier, sorted; empty for none. */
    List<String> holders(BlockKey key) {
        Set<String> h = holders.get(key);
        return h == null ? List.of() : h.stream().sorted().toList();
    }

    /** Copies per engine, by engine name. */
    Map<String, Integer> perEngine() {
        Map<String, Integer> out = new TreeMap<>();
        engines.forEach((name, e) -> out.put(name, e.keys.size()));
        return out;
    }

    /** Copies held by all engines together. */
    long total() {
        long n = 0;
        for (Engine e : engines.values()) {
            n += e.keys.size();
        }
        return n;
    }

    private void clear(String engine, Engine e) {
        for (BlockKey k : e.keys) {
            unhold(k, engine);
        }
        e.keys.clear();
    }

    private void unhold(BlockKey key, String engine) {
        Set<String> h = holders.get(key);
        if (h != null && h.remove(engine) && h.isEmpty()) {
            holders.remove(key);
        }
    }
}
