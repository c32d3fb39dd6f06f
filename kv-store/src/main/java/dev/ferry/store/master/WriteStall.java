package dev.ferry.store.master;

import dev.ferry.store.rpc.RpcException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Waits out the master's write stall on the writer's side: a put answered
 * {@link RpcException#BUSY} (DRAM full while blocks are being demoted to SSD, see
 * {@link Master}) is asked again after 1 ms, doubling up to 16 ms, for at most
 * {@link #LIMIT_NANOS}. Blocks the calling thread while it waits.
 */
public final class WriteStall {
    /** Longest a put waits for room being made by demotion before it fails BUSY, ns. */
    public static final long LIMIT_NANOS = 30_000_000_000L;
    private static final long FIRST_BACKOFF_NANOS = 1_000_000L;
    private static final long MAX_BACKOFF_NANOS = 16_000_000L;

    private WriteStall() {
    }

    /**
     * @return what {@code putStart} returned once it was not answered BUSY
     * @throws RpcException what {@code putStart} threw other than BUSY, or BUSY once the
     *                      limit has passed
     */
    static <T> T retry(Supplier<T> putStart) {
        long deadline = System.nanoTime() + LIMIT_NANOS;
        long backoff = FIRST_BACKOFF_NANOS;
        while (true) {
            try {
                return putStart.get();
            } catch (RpcException e) {
                if (e.status() != RpcException.BUSY || System.nanoTime() + backoff > deadline) {
                    throw e;
                }
                LockSupport.parkNanos(backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF_NANOS);
            }
        }
    }
}
