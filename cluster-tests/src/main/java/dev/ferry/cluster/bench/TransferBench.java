package dev.ferry.cluster.bench;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.TransferEngine;
import dev.ferry.transfer.TransferRequest;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.slice.Opcode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The initiator side of {@code ferry bench transfer}, after Mooncake's
 * {@code transfer_engine_bench}: {@code threads} threads each submit batches of
 * {@code batchSize} requests of {@code blockBytes} against one target segment, back to back,
 * for a duration, cycling through the segment. Latency is per batch (submit to completion),
 * recorded in HdrHistogram; every sampling interval (a second unless told) a {@link TransferSample}
 * goes to the caller.
 *
 * <p>Not thread-safe: one run per instance.
 */
public final class TransferBench {
    private final TransferEngine engine;
    private final SegmentDescriptor target;
    private final Opcode operation;
    private final long blockBytes;
    private final int batchSize;
    private final int threads;

    public TransferBench(TransferEngine engine, SegmentDescriptor target, Opcode operation, long blockBytes,
                         int batchSize, int threads) {
        if (operation == Opcode.NOTIFY) {
            throw new IllegalArgumentException("operation must be read or write");
        }
        long perThread = blockBytes * batchSize;
        if (perThread * threads > target.bytes()) {
            throw new IllegalArgumentException(String.format("threads x batch x block = %d bytes exceeds the target "
                    + "segment of %d bytes", perThread * threads, target.bytes()));
        }
        this.engine = engine;
        this.target = target;
        this.operation = operation;
        this.blockBytes = blockBytes;
        this.batchSize = batchSize;
        this.threads = threads;
    }

    /** The totals of a run. */
    public record Totals(double seconds, long bytes, long requests, double gbps, double requestsPerSecond,
                         double p50Millis, double p99Millis, double p999Millis, List<TransferSample> samples,
                         Histogram latency) {
    }

    /** Runs for {@code seconds}, handing each one-second sample to {@code onSample}. */
    public Totals run(int seconds, Consumer<TransferSample> onSample) throws InterruptedException {
        return run(seconds, 1000, onSample);
    }

    /**
     * Runs for {@code seconds}, handing a sample of each {@code sampleMillis} to {@code onSample}
     * (the last one may be shorter).
     *
     * @throws IllegalArgumentException when {@code sampleMillis} is below 1
     */
    public Totals run(int seconds, long sampleMillis, Consumer<TransferSample> onSample) throws InterruptedException {
        if (sampleMillis < 1) {
            throw new IllegalArgumentException("sampling interval must be at least 1 ms: " + sampleMillis);
        }
        Recorder recorder = new Recorder(3);
        LongAdder bytes = new LongAdder();
        LongAdder requests = new LongAdder();
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(seconds);
        List<Thread> workers = new ArrayList<>();
        List<Slab> buffers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Slab buffer = Slab.allocate(blockBytes * batchSize);
            buffer.memory().fill((byte) (t + 1));
            buffers.add(buffer);
            int thread = t;
            workers.add(Thread.ofPlatform().name("ferry-bench-" + t).start(
                    () -> work(thread, buffer, end, recorder, bytes, requests)));
        }
        Histogram total = new Histogram(3);
        List<TransferSample> samples = new ArrayList<>();
        Histogram interval = null;
        long last = start;
        long due = start;
        long lastBytes = 0;
        long lastRequests = 0;
        try {
            while (System.nanoTime() < end) {
                // Sample on a fixed grid (start + k x interval), so that a late wake-up does not shift the rest.
                due = Math.min(end, due + TimeUnit.MILLISECONDS.toNanos(sampleMillis));
                TimeUnit.NANOSECONDS.sleep(Math.max(TimeUnit.MILLISECONDS.toNanos(1), due - System.nanoTime()));
                long now = System.nanoTime();
                interval = recorder.getIntervalHistogram(interval);
                total.add(interval);
                long b = bytes.sum();
                long r = requests.sum();
                double dt = (now - last) / 1e9;
                TransferSample sample = new TransferSample((now - start) / 1e9, (b - lastBytes) / dt / 1e9,
                        (r - lastRequests) / dt, ms(interval, 50), ms(interval, 99), ms(interval, 99.9));
                samples.add(sample);
                onSample.accept(sample);
                last = now;
                lastBytes = b;
                lastRequests = r;
            }
            for (Thread w : workers) {
                w.join();
            }
        } finally {
            buffers.forEach(Slab::close);
        }
        total.add(recorder.getIntervalHistogram());
        double elapsed = (System.nanoTime() - start) / 1e9;
        return new Totals(elapsed, bytes.sum(), requests.sum(), bytes.sum() / elapsed / 1e9, requests.sum() / elapsed,
                ms(total, 50), ms(total, 99), ms(total, 99.9), samples, total);
    }

    private void work(int thread, Slab buffer, long end, Recorder recorder, LongAdder bytes, LongAdder requests) {
        long span = blockBytes * batchSize;
        long regions = target.bytes() / span;
        long next = thread;
        List<TransferRequest> batch = new ArrayList<>(batchSize);
        while (System.nanoTime() < end) {
            long base = (next % regions) * span;
            next += threads;
            batch.clear();
            for (int i = 0; i < batchSize; i++) {
                long local = i * blockBytes;
                batch.add(operation == Opcode.WRITE
                        ? TransferRequest.write(buffer.memory(), local, target.name(), base + local, blockBytes)
                        : TransferRequest.read(buffer.memory(), local, target.name(), base + local, blockBytes));
            }
            long t0 = System.nanoTime();
            engine.submit(batch).await();
            recorder.recordValue(Math.max(1, (System.nanoTime() - t0) / 1000));
            bytes.add(span);
            requests.add(batchSize);
        }
    }

    private static double ms(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1000.0;
    }
}
