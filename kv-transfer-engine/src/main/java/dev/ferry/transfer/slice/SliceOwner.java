package dev.ferry.transfer.slice;

/** The request a slice belongs to; told when the slice finally completes or fails. */
public interface SliceOwner {
    /** Whether the request has already ended (failed, cancelled); its slices need not be sent. */
    boolean isDone();
}
