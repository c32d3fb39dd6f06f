package dev.ferry.cluster.flap;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Takes one link down and up again on a schedule, on a thread of its own: every
 * {@code everyMillis} the link goes down for {@code downMillis}, the first time
 * {@code everyMillis} after the start. Keeps when each cut began and ended. {@link #close()}
 * stops it and leaves the link up.
 *
 * <p>Thread-safe.
 */
public final class LinkFlapper implements AutoCloseable {
    /** Sets the link down ({@code false}) or up ({@code true}); throws on failure. */
    @FunctionalInterface
    public interface LinkSwitch {
        void set(boolean up);
    }

    /**
     * One cut of the link.
     *
     * @param downNanos when it went down ({@link System#nanoTime()}, which every process of this host shares)
     * @param upNanos   when it came up again
     */
    public record Cut(long downNanos, long upNanos) {
    }

    private final LinkSwitch link;
    private final long everyMillis;
    private final long downMillis;
    private final List<Cut> cuts = new ArrayList<>();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile RuntimeException error;

    /**
     * Starts flapping.
     *
     * @param everyMillis period of the cuts, ms
     * @param downMillis  how long each cut lasts, ms; less than {@code everyMillis}
     * @throws IllegalArgumentException when the cut does not fit in the period
     */
    public LinkFlapper(LinkSwitch link, long everyMillis, long downMillis) {
        if (downMillis < 1 || everyMillis <= downMillis) {
            throw new IllegalArgumentException("a link flap needs 0 < down (" + downMillis + " ms) < period ("
                    + everyMillis + " ms)");
        }
        this.link = link;
        this.everyMillis = everyMillis;
        this.downMillis = downMillis;
        this.thread = Thread.ofPlatform().daemon().name("ferry-link-flapper").start(this::run);
    }

    private void run() {
        long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(everyMillis);
        try {
            while (running) {
                if (!sleepUntil(next)) {
                    return;
                }
                long down = System.nanoTime();
                link.set(false);
                boolean slept = sleepUntil(down + TimeUnit.MILLISECONDS.toNanos(downMillis));
                link.set(true);
                synchronized (cuts) {
                    cuts.add(new Cut(down, System.nanoTime()));
                }
                if (!slept) {
                    return;
                }
                next = down + TimeUnit.MILLISECONDS.toNanos(everyMillis);
            }
        } catch (RuntimeException e) {
            error = e;
            try {
                link.set(true);
            } catch (RuntimeException again) {
                e.addSuppressed(again);
            }
        }
    }

    /** Sleeps until {@code deadline} ({@link System#nanoTime()}); false when stopped first. */
    private boolean sleepUntil(long deadline) {
        while (running) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return true;
            }
            try {
                TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(20)));
            } catch (InterruptedException e) {
                return false;
            }
        }
        return false;
    }

    /** The cuts so far, in order. */
    public List<Cut> cuts() {
        synchronized (cuts) {
            return List.copyOf(cuts);
        }
    }

    /** Period of the cuts, ms. */
    public long everyMillis() {
        return everyMillis;
    }

    /** Length of each cut, ms. */
    public long downMillis() {
        return downMillis;
    }

    /**
     * Stops flapping (a cut under way ends now: the link is up when this returns).
     *
     * @throws IllegalStateException when switching the link failed
     */
    @Override
    public void close() throws InterruptedException {
        running = false; // not an interrupt: that would cut short an 'ip' command under way
        thread.join();
        if (error != null) {
            throw new IllegalStateException("link flapper: " + error.getMessage(), error);
        }
    }
}
