package dev.ferry.transfer;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The outcome of one submitted batch: a future per request, in submission order, and one
 * for the whole batch.
 *
 * <p>Futures complete on the engine's I/O threads: callbacks attached to them must not
 * block. A failed request completes exceptionally with a {@link TransferException}.
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

    /** Waits for the batch; throws the first request's {@link TransferException}, unwrapped. */
    public void await() {
        try {
            batch.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw e;
        }
    }
}
