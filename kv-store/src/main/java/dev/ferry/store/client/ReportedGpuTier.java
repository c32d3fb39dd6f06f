package dev.ferry.store.client;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.gpu.EngineTier;
import dev.ferry.store.gpu.GpuBlockCache;
import dev.ferry.store.master.MasterClient;
import dev.ferry.store.rpc.RpcException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An engine's GPU tier ({@link GpuBlockCache}) whose holdings the master learns: a thread of its
 * own reports, every {@code intervalMillis}, the blocks that became held or were dropped since its
 * previous report (method 50 {@code GPU_HELD}), batched and off the put and get paths, which only
 * record the change under the cache's lock. The first report, and any after a failed one or after
 * the master's count of this engine's copies disagreed with the cache's (a master restarted or
 * taken over), lists every block held instead. A report with no change is sent all the same: it
 * tells the master the engine is alive (one silent for the master's node timeout is taken for dead
 * and its copies dropped). Closing stops the thread and reports that the engine holds nothing.
 *
 * <p>Every {@link EngineTier} call goes to the cache. Thread-safe. Owns the cache and the thread,
 * not the master client: close it before the client.
 */
public final class ReportedGpuTier implements EngineTier {
    private final GpuBlockCache cache;
    private final MasterClient master;
    private final String engine;
    private final ScheduledExecutorService reporter;
    private final AtomicLong reports = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private boolean resync = true;
    private boolean lastFailed;
    private boolean closed;

    /**
     * Starts reporting.
     *
     * @param cache          the GPU tier (owned from now on)
     * @param master         the master to report to (not owned)
     * @param engine         this engine's name at the master, stable across its restarts (the one
     *                       its {@code GPU_LOST} report gives)
     * @param intervalMillis between reports, ms, at least 1; well under the master's node timeout
     * @throws IllegalArgumentException when {@code intervalMillis < 1}
     */
    public ReportedGpuTier(GpuBlockCache cache, MasterClient master, String engine, long intervalMillis) {
        if (intervalMillis < 1) {
            throw new IllegalArgumentException("report interval must be at least 1 ms, was " + intervalMillis);
        }
        this.cache = cache;
        this.master = master;
        this.engine = engine;
        this.reporter = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ferry-gpu-report");
            t.setDaemon(true);
            return t;
        });
        reporter.scheduleWithFixedDelay(this::reportQuietly, 0, intervalMillis, TimeUnit.MILLISECONDS);
    }

    /**
     * Sends one report now (the thread does so every interval).
     *
     * @return whether the master took it
     */
    public synchronized boolean report() {
        if (closed) {
            return false;
        }
        try {
            long known;
            long held;
            if (resync) {
                BlockKey[] all = cache.heldKeys();
                held = all.length;
                known = master.gpuHeld(engine, true, all, new BlockKey[0]);
            } else {
                GpuBlockCache.HeldChanges c = cache.drainChanges();
                held = c.held();
                known = master.gpuHeld(engine, false, c.added(), c.dropped());
            }
            resync = known != held;
            lastFailed = false;
            reports.incrementAndGet();
            return true;
        } catch (RpcException e) {
            resync = true; // the changes drained are lost: the next report lists everything
            lastFailed = true;
            failures.incrementAndGet();
            return false;
        }
    }

    private void reportQuietly() {
        try {
            report();
        } catch (RuntimeException e) {
            failures.incrementAndGet(); // the thread must go on; the next report resyncs
            synchronized (this) {
                resync = true;
            }
        }
    }

    /**
     * Asks the master ({@code GPU_HOLDERS}) which of {@code keys} another engine's GPU tier
     * holds; 0 when the master cannot be asked (counted in {@link #failures()}).
     */
    @Override
    public int heldInOtherGpuTiers(BlockKey[] keys) {
        if (keys.length == 0) {
            return 0;
        }
        try {
            int n = 0;
            for (java.util.List<String> holders : master.gpuHolders(keys)) {
                if (holders.stream().anyMatch(h -> !h.equals(engine))) {
                    n++;
                }
            }
            return n;
        } catch (RpcException e) {
            failures.incrementAndGet();
            return 0;
        }
    }

    /** Reports the master took. */
    public long reports() {
        return reports.get();
    }

    /** Reports that failed (the master unreachable): each makes the next one a full list. */
    public long failures() {
        return failures.get();
    }

    /** The GPU tier reported. */
    public GpuBlockCache cache() {
        return cache;
    }

    @Override
    public void registerStaging(MemorySegment staging) {
        cache.registerStaging(staging);
    }

    @Override
    public void land(BlockKey key, MemorySegment block, int crc32c) {
        cache.land(key, block, crc32c);
    }

    @Override
    public boolean read(BlockKey key, long length, int crc32c, MemorySegment dst) {
        return cache.read(key, length, crc32c, dst);
    }

    @Override
    public int readAll(BlockKey[] keys, long[] lengths, int[] crcs, MemorySegment[] dst, boolean[] served, int n) {
        return cache.readAll(keys, lengths, crcs, dst, served, n);
    }

    @Override
    public void promote(BlockKey key, MemorySegment bytes, int crc32c) {
        cache.promote(key, bytes, crc32c);
    }

    @Override
    public void promoteAll(BlockKey[] keys, MemorySegment[] bytes, int[] crc32cs, int n) {
        cache.promoteAll(keys, bytes, crc32cs, n);
    }

    @Override
    public void forget(BlockKey key) {
        cache.forget(key);
    }

    /**
     * Stops reporting, tells the master this engine holds nothing (best effort, and not when the
     * last report failed), then closes the cache. Idempotent.
     */
    @Override
    public void close() {
        reporter.shutdownNow();
        try {
            reporter.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            synchronized (this) {
                boolean first = !closed;
                closed = true;
                // Not when the last report failed: a master that cannot be reached would hold the close up.
                if (first && !lastFailed) {
                    try {
                        master.gpuHeld(engine, true, new BlockKey[0], new BlockKey[0]);
                    } catch (RpcException e) {
                        failures.incrementAndGet(); // the master drops this engine's copies at its timeout
                    }
                }
            }
        } finally {
            cache.close();
        }
    }
}
