package dev.ferry.transfer;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A warm-up pass for a process that is about to move bytes over TCP: two throwaway engines on
 * loopback move WRITE and READ batches between them (small and large requests, so both the
 * one-frame and the streamed, trailer-checksummed paths run) for a fixed time, then close. The
 * JIT compiles what every engine of the process runs (framing, checksums, the serving side,
 * spraying) before the first real request, so that the process's first second runs at its
 * steady rate instead of in the interpreter. Costs the given time at start and
 * {@value #BUFFER_BYTES} bytes of memory while it runs, twice.
 *
 * <p>Stateless; thread-safe (each call has its own engines).
 */
public final class TransferWarmUp {
    /** Bytes of each of the two buffers (the target's segment and the initiator's source). */
    static final long BUFFER_BYTES = 16L << 20;
    private static final long[] REQUEST_BYTES = {64L << 10, 1L << 20};
    private static final int BATCH = 8;

    private TransferWarmUp() {
    }

    /**
     * Moves bytes between two engines of this process over loopback TCP for about
     * {@code millis}.
     *
     * @return requests moved
     * @throws IllegalArgumentException when {@code millis} is negative
     * @throws IllegalStateException when loopback cannot be bound, or a warm-up request fails
     */
    public static long run(long millis) {
        if (millis < 0) {
            throw new IllegalArgumentException("warm-up time must be at least 0 ms: " + millis);
        }
        if (millis == 0) {
            return 0;
        }
        long requests = 0;
        try (Slab remote = Slab.allocate(BUFFER_BYTES); Slab local = Slab.allocate(BUFFER_BYTES);
             TransferEngine target = new TransferEngine(new TransferEngine.Context().sharedMemory(false))) {
            SegmentDescriptor served = target.registerSegment("ferry-warm-up", remote.memory());
            // Another host's identity: never shared memory, always the network path.
            SegmentDescriptor d = new SegmentDescriptor(served.name(), served.bytes(), served.endpoints(),
                    "ferry-warm-up-peer", "", List.of(), null);
            try (TransferEngine initiator = new TransferEngine(new TransferEngine.Context().sharedMemory(false)
                    .resolver(name -> d))) {
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
                for (int round = 0; System.nanoTime() < end; round++) {
                    long size = REQUEST_BYTES[round % REQUEST_BYTES.length];
                    boolean write = (round / REQUEST_BYTES.length) % 2 == 0;
                    List<TransferRequest> batch = new ArrayList<>(BATCH);
                    for (int i = 0; i < BATCH; i++) {
                        long at = (i * size) % (BUFFER_BYTES - size + 1);
                        batch.add(write ? TransferRequest.write(local.memory(), at, d.name(), at, size)
                                : TransferRequest.read(local.memory(), at, d.name(), at, size));
                    }
                    initiator.submit(batch).await();
                    requests += BATCH;
                }
            }
        }
        return requests;
    }
}
