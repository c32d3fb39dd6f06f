package dev.ferry.transfer.slice;

/** The request a slice belongs to; told when the slice finally completes or fails. */
public interface SliceOwner {
    /** Whether the request has already ended (failed, cancelled); its slices need not be sent. */
    boolean isDone();

    /**
     * A slice of this request is about to be handed to a link (called by the dispatcher just
     * before {@code Link.send}); false when the request has ended, and the slice is then not
     * sent. An owner that counts its slices in flight counts it here.
     */
    default boolean sending() {
        return !isDone();
    }
}
