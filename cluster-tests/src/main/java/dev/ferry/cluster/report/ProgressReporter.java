package dev.ferry.cluster.report;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar for a replay (me.tongfei:progressbar), drawn on stderr so that stdout keeps
 * only the report. One step per finished request; the extra message shows the prefix hit
 * ratio so far and the failed requests. Without a console (output redirected, CI) it still
 * works: the bar is redrawn once a second as plain ASCII instead of four times a second.
 * Thread-safe: requests may finish on any thread. Close it to draw the final state and stop
 * its refresh thread.
 */
public final class ProgressReporter implements AutoCloseable {
    private static final int MAX_WIDTH = 120;

    private final ProgressBar bar;
    private long blocks;
    private long hitBlocks;
    private long failed;

    /**
     * @param taskName shown before the bar, e.g. {@code replay}
     * @param total    requests expected; 0 or less draws a bar without an end
     */
    public ProgressReporter(String taskName, long total) {
        this(taskName, total, System.err, System.console() != null);
    }

    /**
     * @param out         where the bar is drawn
     * @param interactive whether {@code out} is a terminal, for a faster refresh
     */
    ProgressReporter(String taskName, long total, PrintStream out, boolean interactive) {
        this.bar = new ProgressBarBuilder().setTaskName(taskName).setInitialMax(total > 0 ? total : -1)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(interactive ? 250 : 1000)
                .setConsumer(new ConsoleProgressBarConsumer(out, MAX_WIDTH)).build();
    }

    /** Counts one finished request that has no block counts to report. */
    public void step(boolean failed) {
        step(failed, 0, 0);
    }

    /** Counts one finished request: its prompt blocks and the leading ones found in the store. */
    public synchronized void step(boolean failed, int blocks, int hitBlocks) {
        this.blocks += blocks;
        this.hitBlocks += hitBlocks;
        if (failed) {
            this.failed++;
        }
        bar.step();
        bar.setExtraMessage(message());
    }

    /** Counts one finished request from its result. */
    public void step(RequestResult result) {
        step(result.failed(), result.blocks(), result.hitBlocks());
    }

    private String message() {
        String hits = blocks == 0 ? "" : String.format(Locale.ROOT, "hits %.1f%%", 100.0 * hitBlocks / blocks);
        String fails = failed == 0 ? "" : failed + " failed";
        return hits.isEmpty() || fails.isEmpty() ? hits + fails : hits + ", " + fails;
    }

    /** Draws the final state and stops the refresh thread. */
    @Override
    public synchronized void close() {
        bar.close();
    }
}
