package dev.ferry.nativemem.device;

/**
 * The completion of one asynchronous copy (or of every copy queued before it on its stream).
 * Thread-safety: {@link #isDone()} and {@link #await()} may be called from any thread, any
 * number of times.
 */
public interface CopyCompletion {
    /**
     * @return whether the copy has finished (successfully or not); never blocks
     * @throws DeviceException when the device reports an error other than "not ready"
     */
    boolean isDone();

    /**
     * Blocks until the copy has finished.
     *
     * @throws DeviceException when the copy failed
     */
    void await();

    /** A completion that is already done: for copies that ran synchronously. */
    CopyCompletion DONE = new CopyCompletion() {
        @Override
        public boolean isDone() {
            return true;
        }

        @Override
        public void await() {
        }
    };
}
