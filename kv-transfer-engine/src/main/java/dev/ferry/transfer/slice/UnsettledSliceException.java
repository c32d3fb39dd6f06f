package dev.ferry.transfer.slice;

import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * A slice failed without an answer: its link was lost (closed, stalled, garbled) while the
 * slice was sent and unanswered, so its bytes may still be on their way to the target. Before
 * a WRITE so failed is sent again, or its request fails, the initiator calls {@link #fence()},
 * which completes once the target has confirmed that nothing more from that link can land
 * (or fails if that cannot be confirmed).
 */
public final class UnsettledSliceException extends TransferException {
    private final transient Supplier<CompletableFuture<Void>> fence;

    /**
     * @param fence asks the target to fence the lost link; called at most once per failed slice
     */
    public UnsettledSliceException(String message, boolean retryable, Supplier<CompletableFuture<Void>> fence) {
        super(message, retryable);
        this.fence = fence;
    }

    /**
     * Asks the target to fence the lost link.
     *
     * @return completes once the target confirms nothing more from the link can land;
     *         completes exceptionally with a {@link TransferException} if that cannot be confirmed
     */
    public CompletableFuture<Void> fence() {
        return fence.get();
    }
}
