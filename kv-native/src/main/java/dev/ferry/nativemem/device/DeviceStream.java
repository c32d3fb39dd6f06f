package dev.ferry.nativemem.device;

/**
 * An ordered queue of asynchronous copies on one device (a CUDA stream): copies queued on one
 * stream run in order; copies on different streams may overlap.
 *
 * <p>Thread-safety: copies may be queued from any thread; their order is the order in which
 * the queueing calls return. Close it once, after its copies are awaited; a copy queued on a
 * closed stream throws {@link IllegalStateException}.
 */
public interface DeviceStream extends AutoCloseable {
    /**
     * Blocks until every copy queued so far has finished.
     *
     * @throws DeviceException when one of them failed
     * @throws IllegalStateException when the stream is closed
     */
    void synchronize();

    /** Waits for queued copies, then releases the stream. Idempotent. */
    @Override
    void close();
}
