package dev.ferry.store.block;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs the per-value copies (copy and CRC32C) of one large batch on two threads: the
 * batch's entries are split in two halves of about equal bytes, the second half is offered
 * to a helper thread shared by every request, the first is run on the caller's thread, and
 * the call returns once both are done. When the helper is busy with another batch, the
 * caller runs the second half itself once its first is done (it never waits for a queue).
 * With one thread, or a batch of one value or fewer than {@link #minBytes} bytes, everything
 * runs on the caller's thread.
 *
 * <p>Thread-safe. Owns its helper thread: close it (a closed copier runs everything on the
 * caller's thread).
 */
public final class ParallelCopy implements AutoCloseable {
    /**
     * Default least bytes of a batch split across two threads (4 MiB): below, waking the
     * helper costs about what it saves (measured with {@code python3 -m ferry.bench}: batches
     * of 2 MiB were no faster split, often slower; 32 MiB ones 6-30% faster).
     */
    public static final long DEFAULT_MIN_BYTES = 4 << 20;

    /** A copier that runs everything on the caller's thread (owns no thread). */
    public static final ParallelCopy SERIAL = new ParallelCopy(1, Long.MAX_VALUE);

    /** Copies the entries {@code [from, to)} of the batch. */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    private final int threads;
    private final long minBytes;
    private final ExecutorService helper;
    private final LongAdder splits = new LongAdder();
    private final LongAdder helped = new LongAdder();
    private volatile boolean closed;

    /**
     * @param threads  1 (every batch on its request's thread) or 2 (large batches split)
     * @param minBytes least bytes of a batch of at least two values that is split
     * @throws IllegalArgumentException when {@code threads} is not 1 or 2, or {@code minBytes} is negative
     */
    public ParallelCopy(int threads, long minBytes) {
        if (threads != 1 && threads != 2) {
            throw new IllegalArgumentException("copy threads must be 1 or 2, not " + threads);
        }
        if (minBytes < 0) {
            throw new IllegalArgumentException("least bytes to split must be at least 0, not " + minBytes);
        }
        this.threads = threads;
        this.minBytes = minBytes;
        this.helper = threads == 1 ? null : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "ferry-copy");
            t.setDaemon(true);
            return t;
        });
    }

    /** A thread that is not the caller's: memory it may reach, the helper may too. */
    private static final Thread ELSEWHERE = Thread.ofPlatform().unstarted(() -> { });

    /**
     * Whether the helper thread may reach {@code segment} (false for memory of a confined
     * arena, which only its owner may touch: a batch with such memory is not to be split).
     */
    public static boolean shareable(MemorySegment segment) {
        return segment.isAccessibleBy(ELSEWHERE);
    }

    /** Whether {@link #run} splits a batch of {@code values} values and {@code bytes} bytes in all. */
    public boolean splits(int values, long bytes) {
        return helper != null && !closed && values > 1 && bytes >= minBytes;
    }

    /** Batches split in two halves so far. */
    public long splits() {
        return splits.sum();
    }

    /** Halves the helper thread copied so far (the others of {@link #splits} the caller took back). */
    public long helped() {
        return helped.sum();
    }

    /** 1 or 2: the threads a large batch is copied on. */
    public int threads() {
        return threads;
    }

    /**
     * Runs {@code range} over the entries of a batch, {@code bytes[i]} bytes each, in one or
     * two calls of disjoint ranges that together cover {@code [0, bytes.length)} (the second,
     * when there is one, maybe on the helper thread). Returns when every call returned; the
     * first exception or error of either is thrown then (the other half still ran to its end).
     *
     * @return whether the batch was split across two threads
     */
    public boolean run(long[] bytes, Range range) {
        int n = bytes.length;
        long total = 0;
        for (long b : bytes) {
            total += b;
        }
        if (!splits(n, total)) {
            range.run(0, n);
            return false;
        }
        int split = 1;
        long first = bytes[0];
        while (split < n - 1 && first + bytes[split] <= total / 2) {
            first += bytes[split++];
        }
        int at = split;
        splits.increment();
        Half second = new Half(() -> range.run(at, n), helped);
        try {
            helper.execute(second);
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            // closed meanwhile: the caller runs it below
        }
        Throwable failure = null;
        try {
            range.run(0, at);
        } catch (Throwable e) { // errors too: the other half must end before the caller's memory goes
            failure = e;
        }
        second.runOrJoin();
        if (failure == null) {
            failure = second.failure;
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        return true;
    }

    /** The second half: run by whichever of the helper and the caller claims it first. */
    private static final class Half implements Runnable {
        private final Runnable work;
        private final LongAdder helped;
        private final AtomicBoolean claimed = new AtomicBoolean();
        private final Thread caller = Thread.currentThread();
        private volatile boolean done;
        private Throwable failure;

        Half(Runnable work, LongAdder helped) {
            this.work = work;
            this.helped = helped;
        }

        @Override
        public void run() {
            if (claimed.compareAndSet(false, true)) {
                helped.increment();
                try {
                    work.run();
                } catch (Throwable e) { // handed to the caller
                    failure = e;
                } finally {
                    done = true;
                    LockSupport.unpark(caller);
                }
            }
        }

        /** On the caller's thread: runs the half when the helper has not begun it, else waits for its end. */
        void runOrJoin() {
            if (claimed.compareAndSet(false, true)) {
                try {
                    work.run();
                } catch (Throwable e) {
                    failure = e;
                }
                done = true;
                return;
            }
            boolean interrupted = false;
            while (!done) {
                LockSupport.park(this);
                interrupted |= Thread.interrupted();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        if (helper != null) {
            helper.shutdown();
        }
    }
}
