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

    BatchHandle(List<CompletableFuture<Void>> requests) {
        this.requests = List.copyOf(requests);
        this.batch = CompletableFuture.allOf(requests.toArray(CompletableFuture[]::new));
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
     * cancelled WRITE part of its target range.
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
