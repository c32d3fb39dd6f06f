package dev.ferry.cluster.netns;

import dev.ferry.cluster.ChildProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The physical baseline of spraying over a {@link NetnsTestBed}: one raw TCP stream per
 * link to a {@link RawSinkMain} in the namespace, each given its link's ideal share of the
 * bytes up front (in proportion to the link's configured rate, which the engine does not
 * know), all sent at once. What the links can carry when the split is perfect and nothing
 * is measured, framed, checksummed or acknowledged.
 *
 * <p>Connections and writer threads are opened once and reused by every {@link #write(long)}.
 * Not thread-safe: one write at a time. Owns the sink process, the connections and the
 * threads: close it.
 */
public final class RawSplitBaseline implements AutoCloseable {
    /** Bytes per socket write call (1 MiB). */
    private static final int CHUNK_BYTES = 1 << 20;

    private final int[] rateMbits;
    private final ChildProcess sink;
    private final List<SocketChannel> channels = new ArrayList<>();
    private final ByteBuffer[] chunks;
    private final ExecutorService writers;

    /**
     * Starts the sink in the bed's namespace and connects one stream per link.
     *
     * @param rateMbits each link's rate, Mbit/s, in link order (the bed's)
     * @param log       the sink's log file
     * @throws IllegalStateException if the sink cannot start or a link cannot be connected
     */
    public RawSplitBaseline(NetnsTestBed bed, int[] rateMbits, Path log) {
        this.rateMbits = rateMbits.clone();
        this.sink = ChildProcess.start("raw-sink", bed.inNamespaceCommand(List.of()), RawSinkMain.class.getName(),
                List.of(), log);
        this.writers = Executors.newFixedThreadPool(rateMbits.length,
                Thread.ofPlatform().name("ferry-raw-writer-", 0).daemon().factory());
        this.chunks = new ByteBuffer[rateMbits.length];
        try {
            int port = Integer.parseInt(sink.field("port"));
            for (int i = 0; i < rateMbits.length; i++) {
                channels.add(SocketChannel.open(new InetSocketAddress(bed.peerAddresses().get(i), port)));
                chunks[i] = ByteBuffer.allocateDirect(CHUNK_BYTES);
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw new IllegalStateException("cannot start the raw TCP baseline: " + e.getMessage(), e);
        }
    }

    /** Link {@code i}'s ideal share of {@code bytes}: in proportion to its rate. */
    long share(int i, long bytes) {
        long sum = 0;
        for (int rate : rateMbits) {
            sum += rate;
        }
        return (long) ((double) bytes * rateMbits[i] / sum);
    }

    /**
     * Writes {@code bytes} in all, each link its share, all links at once; returns when every
     * share has been handed to its socket.
     *
     * @return the elapsed time, ns
     * @throws UncheckedIOException if a link fails
     */
    public long write(long bytes) {
        long start = System.nanoTime();
        List<Future<?>> running = new ArrayList<>(channels.size());
        for (int i = 0; i < channels.size(); i++) {
            int link = i;
            running.add(writers.submit(() -> writeShare(link, share(link, bytes))));
        }
        try {
            for (Future<?> f : running) {
                f.get();
            }
        } catch (ExecutionException e) {
            throw e.getCause() instanceof UncheckedIOException u ? u
                    : new IllegalStateException("raw baseline writer failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        return System.nanoTime() - start;
    }

    private void writeShare(int link, long share) {
        SocketChannel channel = channels.get(link);
        ByteBuffer chunk = chunks[link];
        try {
            for (long sent = 0; sent < share; ) {
                chunk.clear().limit((int) Math.min(CHUNK_BYTES, share - sent));
                while (chunk.hasRemaining()) {
                    sent += channel.write(chunk);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("raw baseline link " + link + ": " + e.getMessage(), e);
        }
    }

    /** Closes the connections and the writers and stops the sink (quietly). */
    @Override
    public void close() {
        writers.shutdownNow();
        for (SocketChannel c : channels) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        sink.stop();
        sink.awaitExit();
    }
}
