package dev.ferry.nativemem;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Populates mappings of other processes' memory (a store node's slab mapped by a writer, a
 * client's shared buffer mapped by its sidecar) on one background thread
 * ({@link Slab#populateRange}: {@code madvise(MADV_POPULATE_WRITE)}, chunk by chunk), so
 * that the first write through a mapping to each page does not take a page fault of its
 * own. The pages exist already when their owner populated its slab; populating only maps
 * them. Transfers through a mapping run while it is populated: a page they reach first they
 * fault in themselves, as they would without it. Mappings are populated one after another,
 * in the order they were {@link #start started}. The thread runs at the lowest CPU priority
 * ({@link BackgroundPriority}): on a busy machine transfers and checksums come first, and
 * populating takes what is left.
 *
 * <p>Thread-safe. Owns its thread, started with the first mapping: close it.
 */
public final class MappingPopulator implements AutoCloseable {
    /** Bytes populated per {@code madvise} call: the longest a cancel waits for (64 MiB). */
    public static final long CHUNK_BYTES = 64L << 20;

    private final String threadName;

    private final LongAdder populatedBytes = new LongAdder();
    private final LongAdder populateNanos = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private ExecutorService thread;
    private volatile boolean closed;

    /** @param threadName the name of its thread (Linux shows the first 15 characters) */
    public MappingPopulator(String threadName) {
        this.threadName = threadName;
    }

    /**
     * Starts populating {@code slab} in the background (queued behind the mappings before it).
     * The slab must stay mapped until the returned job is {@link Job#cancelAndAwait cancelled}.
     */
    public Job start(Slab slab) {
        Job job = new Job(slab);
        ExecutorService executor = executor();
        try {
            if (executor == null) {
                job.done.complete(null);
            } else {
                executor.execute(job::run);
            }
        } catch (RejectedExecutionException closedMeanwhile) {
            job.done.complete(null);
        }
        return job;
    }

    private synchronized ExecutorService executor() {
        if (thread == null && !closed) {
            thread = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(() -> {
                    BackgroundPriority.lowerCurrentThread(); // where it can't, it populates at normal priority
                    r.run();
                }, threadName);
                t.setDaemon(true);
                return t;
            });
        }
        return thread;
    }

    /** Bytes populated so far. */
    public long populatedBytes() {
        return populatedBytes.sum();
    }

    /** Time spent populating so far, ns. */
    public long populateNanos() {
        return populateNanos.sum();
    }

    /** Populates that stopped on an error of {@code madvise} (the mapping stays usable). */
    public long failures() {
        return failures.sum();
    }

    /** Stops the thread; jobs not yet started are dropped. Cancel live jobs first. */
    @Override
    public void close() {
        ExecutorService executor;
        synchronized (this) {
            closed = true;
            executor = thread;
        }
        if (executor != null) {
            executor.shutdownNow().forEach(Runnable::run); // a dropped job completes as cancelled
            try {
                executor.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The populating of one mapping. */
    public final class Job {
        private final Slab slab;
        private final CompletableFuture<Void> done = new CompletableFuture<>();
        private volatile boolean cancelled;

        private Job(Slab slab) {
            this.slab = slab;
        }

        private void run() {
            if (cancelled || closed) {
                done.complete(null);
                return;
            }
            long start = System.nanoTime();
            try {
                for (long at = 0; at < slab.bytes() && !cancelled && !closed; at += CHUNK_BYTES) {
                    long length = Math.min(CHUNK_BYTES, slab.bytes() - at);
                    if (!slab.populateRange(at, length)) {
                        break; // the kernel has no MADV_POPULATE_WRITE: the transfers fault pages in
                    }
                    populatedBytes.add(length);
                }
            } catch (IllegalStateException e) {
                failures.increment(); // e.g. ENOMEM, or the file truncated by its owner
            } finally {
                populateNanos.add(System.nanoTime() - start);
                done.complete(null);
            }
        }

        /** Whether it has finished (populated, failed or cancelled). */
        public boolean isDone() {
            return done.isDone();
        }

        /** Stops it after the chunk in progress and waits for that; then the slab may be unmapped. */
        public void cancelAndAwait() {
            cancelled = true;
            done.join();
        }
    }
}
