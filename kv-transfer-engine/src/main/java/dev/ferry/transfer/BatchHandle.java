package dev.ferry.transfer;

import dev.ferry.transfer.slice.TransferException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The outcome of one submitted batch: a future per request, in submission order, and one
 * for the whole batch.
 *
 * <p>Futures complete on the engine's I/O threads: callbacks attached to them must not
 * block. A failed request completes exceptionally with a {@link TransferException} (a
 * {@link TransferTimeoutException} when its deadline passed); a cancelled one is cancelled.
 * Thread-safe.
 */
public final class BatchHandle {
    private final List<CompletableFuture<Void>> requests;
    private final CompletableFuture<Void> batch;
    private final CompletableFuture<Void> settled;

    BatchHandle(List<CompletableFuture<Void>> requests, List<CompletableFuture<Void>> settles) {
        this.requests = List.copyOf(requests);
        this.batch = CompletableFuture.allOf(requests.toArray(CompletableFuture[]::new));
        this.settled = CompletableFuture.allOf(settles.toArray(CompletableFuture[]::new));
    }

    /**
     * Completes once no slice of the batch can still change memory: every request is done and
     * every slice it sent was answered, failed, or, for a WRITE lost in flight, fenced at its
     * target (see docs/protocol.md, FENCE and FENCE_SESSION). A request that completed has
     * settled already; one that failed, missed its deadline or was cancelled may still have
     * slices in flight, for up to the stall timeout and a fence. Wait for this before freeing or
     * reusing the target range of a WRITE (or the local buffer of a READ) that did not complete.
     * Completes exceptionally with a {@link TransferException} when a lost WRITE's fence was not
     * confirmed: its range may still be written, so do not give it to another block.
     */
    public CompletableFuture<Void> settled() {
        return settled;
    }

    /** One future per request, in the order they were submitted. */
    public List<CompletableFuture<Void>> requests() {
        return requests;
    }

    /** Completes when every request has; exceptionally if any failed. */
    public CompletableFuture<Void> completion() {
        return batch;
    }

    /** The status of request {@code i} (submission order). */
    public TransferStatus status(int i) {
        CompletableFuture<Void> f = requests.get(i);
        if (!f.isDone()) {
            return TransferStatus.PENDING;
        }
        if (f.isCancelled()) {
            return TransferStatus.CANCELLED;
        }
        if (!f.isCompletedExceptionally()) {
            return TransferStatus.COMPLETED;
        }
        return f.exceptionNow() instanceof TransferTimeoutException ? TransferStatus.TIMED_OUT : TransferStatus.FAILED;
    }

    /**
     * Cancels every request not done yet: their waiting slices are dropped, slices in flight
     * finish and are ignored. A cancelled READ may have filled part of its local buffer, a
     * cancelled WRITE part of its target range; {@link #settled()} completes once no slice in
     * flight can change them any more.
     *
     * @return how many requests were cancelled
     */
    public int cancel() {
        int n = 0;
        for (CompletableFuture<Void> f : requests) {
            if (f.cancel(false)) {
                n++;
            }
        }
        return n;
    }

    /** Waits for the batch; throws the first request's {@link TransferException}, unwrapped. */
    public void await() {
        try {
            batch.join();
        } catch (java.util.concurrent.CancellationException e) {
            throw new TransferException("batch cancelled", false, e);
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof java.util.concurrent.CancellationException c) {
                throw new TransferException("batch cancelled", false, c);
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw e;
        }
    }
}
