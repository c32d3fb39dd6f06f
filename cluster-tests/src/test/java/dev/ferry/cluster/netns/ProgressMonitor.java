package dev.ferry.cluster.netns;

import dev.ferry.transfer.transport.Link;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Watches a counter (every millisecond), such as the bytes completed on a set of links, and
 * keeps the times at which it moved, so that a test can ask afterwards for the longest pause
 * within a window (after a link was cut, for instance) or when it first moved after a moment.
 * Test support; the sampling thread is its only writer until {@link #close}.
 */
final class ProgressMonitor implements AutoCloseable {
    private final Thread thread;
    private volatile boolean running = true;
    private long[] changes = new long[4096];
    private int count;

    /** Watches the bytes completed on {@code links}, all together. */
    ProgressMonitor(List<? extends Link> links) {
        this(() -> links.stream().mapToLong(l -> l.estimator().bytes()).sum());
    }

    /** Watches {@code counter}. */
    ProgressMonitor(LongSupplier counter) {
        thread = Thread.ofPlatform().daemon().name("progress-monitor").start(() -> {
            long last = counter.getAsLong();
            while (running) {
                long bytes = counter.getAsLong();
                if (bytes != last) {
                    record(System.nanoTime());
                    last = bytes;
                }
                try {
                    TimeUnit.MILLISECONDS.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    private void record(long nanoTime) {
        if (count == changes.length) {
            changes = Arrays.copyOf(changes, count * 2);
        }
        changes[count++] = nanoTime;
    }

    /** Stops sampling; afterwards {@link #longestPause} may be asked. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join();
    }

    /**
     * The first time the counter moved after {@code from} ({@link System#nanoTime()}), or -1 if
     * it never did. Only after {@link #close}.
     */
    long firstMoveAfter(long from) {
        for (int i = 0; i < count; i++) {
            if (changes[i] > from) {
                return changes[i];
            }
        }
        return -1;
    }

    /**
     * The longest time without progress within {@code [from, to]} ({@link System#nanoTime()}),
     * nanoseconds: a pause that began before {@code from} counts from {@code from}; one still
     * going at {@code to} counts until then. Only after {@link #close}.
     */
    long longestPause(long from, long to) {
        long longest = 0;
        long since = from;
        for (int i = 0; i < count; i++) {
            long t = changes[i];
            if (t < from) {
                continue;
            }
            if (t > to) {
                break;
            }
            longest = Math.max(longest, t - since);
            since = t;
        }
        return Math.max(longest, to - since);
    }
}
