package dev.ferry.transfer;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.segment.SegmentResolver;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * A warm-up pass for a process that is about to move bytes over TCP: throwaway engines on
 * loopback move WRITE and READ batches of 64 KiB and 1 MiB requests between them (so both the
 * one-frame and the streamed, trailer-checksummed paths run, from {@value #THREADS}
 * submitting threads so that requests queue behind others as under load), until the JIT
 * compilers go quiet or the time budget is spent, then close. The process's first real
 * transfers then run compiled code at their steady rate instead of in the interpreter.
 *
 * <p>Why this shape, from measurement (docs/benchmarks.md, "The first second: warm-up"): on
 * two cores, compiling the engine's and Netty's hot paths takes C2 3 to 5 s of CPU, so a fixed
 * second left the first second of load at a quarter to a half of the steady rate. The pass
 * therefore runs until the compiler threads have used at most {@value #QUIET_MILLIS} ms of CPU
 * in each of {@value #QUIET_ROUNDS} rounds in a row ({@link JitCompilerCpu}; without
 * {@code /proc} it runs for the whole budget). Each round of {@value #ROUND_MILLIS} ms uses
 * fresh engines, so that connecting, the hello frame and closing are in the profiles too:
 * with one pair of engines kept for the whole pass, the code C2 had compiled was thrown away
 * ("uncommon trap") when the real engine then connected, and compiled again during the first
 * second. For the same reason the rounds take turns among {@value #RESOLVER_CLASSES} resolver
 * classes: the engine's call to its resolver then sees several, and C2 compiles a call rather
 * than inlining the warm-up's resolver and throwing that code away at the first request of the
 * process's own (a {@code TransferEngine.submit} recompiled in the first quarter second).
 *
 * <p>Costs up to the budget at start and {@value #BUFFER_BYTES} bytes of memory while it
 * runs, twice. Stateless; thread-safe (each call has its own engines).
 */
public final class TransferWarmUp {
    /** Bytes of each of the two buffers (the target's segment and the initiator's source). */
    static final long BUFFER_BYTES = 16L << 20;
    /** Submitting threads: two, so that links carry requests queued behind others. */
    static final int THREADS = 2;
    /** Length of one round (a fresh pair of engines), ms. */
    static final long ROUND_MILLIS = 250;
    /** Compiler CPU per round at or below which a round counts as quiet, ms (two clock ticks). */
    static final long QUIET_MILLIS = 2 * JitCompilerCpu.TICK_MILLIS;
    /** Quiet rounds in a row that end the pass. */
    static final int QUIET_ROUNDS = 2;
    private static final long SMALL = 64L << 10;
    private static final long LARGE = 1L << 20;
    /** Batches of small requests per batch of large ones, per direction. */
    private static final int SMALL_PER_LARGE = 4;
    /** Requests per batch: 16 small ones, 8 large ones (a thread's half of the buffer). */
    private static final int SMALL_BATCH = 16;
    private static final int LARGE_BATCH = 8;
    /** Resolver classes the rounds take turns among: three make the call site megamorphic. */
    static final int RESOLVER_CLASSES = 3;

    private TransferWarmUp() {
    }

    /**
     * What a pass did.
     *
     * @param requests requests moved
     * @param millis   how long it ran, ms
     * @param settled  whether it ended because the JIT compilers went quiet (else the budget ran out)
     */
    public record Result(long requests, long millis, boolean settled) {
    }

    /**
     * Moves bytes between throwaway engines of this process over loopback TCP until the JIT
     * compilers go quiet, for at most about {@code budgetMillis} (a round in progress finishes,
     * up to {@value #ROUND_MILLIS} ms more).
     *
     * @param budgetMillis the most time to spend, ms; 0 for no pass
     * @throws IllegalArgumentException when {@code budgetMillis} is negative
     * @throws IllegalStateException when loopback cannot be bound, or a warm-up request fails
     */
    public static Result run(long budgetMillis) {
        if (budgetMillis < 0) {
            throw new IllegalArgumentException("warm-up time must be at least 0 ms: " + budgetMillis);
        }
        long start = System.nanoTime();
        if (budgetMillis == 0) {
            return new Result(0, 0, false);
        }
        long end = start + TimeUnit.MILLISECONDS.toNanos(budgetMillis);
        boolean watch = JitCompilerCpu.available();
        long requests = 0;
        int quiet = 0;
        try (Slab remote = Slab.allocate(BUFFER_BYTES); Slab local = Slab.allocate(BUFFER_BYTES)) {
            long jit = watch ? JitCompilerCpu.millis() : 0;
            // An interrupt ends the pass (after the round in progress), unsettled.
            for (int round = 0; quiet < QUIET_ROUNDS && System.nanoTime() < end
                    && !Thread.currentThread().isInterrupted(); round++) {
                long roundEnd = Math.min(end, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ROUND_MILLIS));
                requests += round(remote.memory(), local.memory(), round, roundEnd);
                if (watch) {
                    long now = JitCompilerCpu.millis();
                    quiet = now - jit <= QUIET_MILLIS ? quiet + 1 : 0;
                    jit = now;
                }
            }
        }
        return new Result(requests, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), quiet >= QUIET_ROUNDS);
    }

    /** One round: a fresh target and initiator, {@value #THREADS} threads submitting until {@code endNanos}. */
    private static long round(MemorySegment remote, MemorySegment local, int round, long endNanos) {
        LongAdder requests = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        try (TransferEngine target = new TransferEngine(new TransferEngine.Context().sharedMemory(false))) {
            SegmentDescriptor served = target.registerSegment("ferry-warm-up", remote);
            // Another host's identity: never shared memory, always the network path.
            SegmentDescriptor d = new SegmentDescriptor(served.name(), served.bytes(), served.endpoints(),
                    "ferry-warm-up-peer", "", List.of(), null);
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().sharedMemory(false)
                    .resolver(resolver(round, d)))) {
                List<Thread> threads = new ArrayList<>(THREADS);
                try {
                    for (int t = 0; t < THREADS; t++) {
                        long base = t * (BUFFER_BYTES / THREADS);
                        threads.add(Thread.ofPlatform().name("ferry-warm-up-" + t).start(() -> {
                            try {
                                submit(initiator, d.name(), local, base, stop, requests);
                            } catch (Throwable e) {
                                failure.compareAndSet(null, e);
                                stop.set(true);
                            }
                        }));
                    }
                    while (!stop.get() && System.nanoTime() < endNanos) {
                        TimeUnit.NANOSECONDS.sleep(Math.min(TimeUnit.MILLISECONDS.toNanos(10),
                                Math.max(0, endNanos - System.nanoTime())));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    stop.set(true);
                    joinAll(threads);
                }
            }
        }
        if (failure.get() != null) {
            throw new IllegalStateException("a warm-up request failed: " + failure.get(), failure.get());
        }
        return requests.sum();
    }

    /** One of {@link #RESOLVER_CLASSES} resolver classes, by round; each resolves every name to {@code d}. */
    private static SegmentResolver resolver(int round, SegmentDescriptor d) {
        return switch (round % RESOLVER_CLASSES) {
            case 0 -> name -> d;
            case 1 -> name -> d; // a second lambda: a class of its own
            default -> new SegmentResolver() {
                @Override
                public SegmentDescriptor resolve(String name) {
                    return d;
                }
            };
        };
    }

    /** Batches until {@code stop}: {@value #SMALL_PER_LARGE} small WRITE and READ pairs, then a large pair, and again. */
    private static void submit(TransferEngine initiator, String segment, MemorySegment local, long base,
                               AtomicBoolean stop, LongAdder requests) {
        int cycle = 2 * (SMALL_PER_LARGE + 1);
        List<TransferRequest> batch = new ArrayList<>(SMALL_BATCH);
        for (int round = 0; !stop.get(); round++) {
            int k = round % cycle;
            boolean write = k % 2 == 0;
            boolean large = k >= 2 * SMALL_PER_LARGE;
            long size = large ? LARGE : SMALL;
            int count = large ? LARGE_BATCH : SMALL_BATCH;
            batch.clear();
            for (int i = 0; i < count; i++) {
                long at = base + i * size;
                batch.add(write ? TransferRequest.write(local, at, segment, at, size)
                        : TransferRequest.read(local, at, segment, at, size));
            }
            initiator.submit(batch).await();
            requests.add(count);
        }
    }

    private static void joinAll(List<Thread> threads) {
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
