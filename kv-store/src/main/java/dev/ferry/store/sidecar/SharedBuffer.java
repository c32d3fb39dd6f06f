package dev.ferry.store.sidecar;

import dev.ferry.nativemem.Slab;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A client's shared-memory buffer as the sidecar maps it: a sealed memfd that the client
 * created and registered ({@link BufferAdmission}), used directly as the source of puts and
 * the destination of gets. Reference-counted (Netty style): registration holds one
 * reference and each request using it one more; the mapping is unmapped when the last is
 * released, so unregistering a buffer, or a client disconnecting, while a transfer still
 * uses it cannot pull memory from under the transfer.
 *
 * <p>Thread-safe.
 */
final class SharedBuffer {
    private final int id;
    private final Slab slab;
    private final AtomicInteger refs = new AtomicInteger(1);

    SharedBuffer(int id, Slab slab) {
        this.id = id;
        this.slab = slab;
    }

    int id() {
        return id;
    }

    /** Size, bytes. */
    long bytes() {
        return slab.bytes();
    }

    /** Takes a reference; false when the buffer is already unmapped. */
    boolean retain() {
        while (true) {
            int r = refs.get();
            if (r == 0) {
                return false;
            }
            if (refs.compareAndSet(r, r + 1)) {
                return true;
            }
        }
    }

    /** Drops a reference; the last one unmaps the file (which stays: it is the client's). */
    void release() {
        if (refs.decrementAndGet() == 0) {
            slab.close();
        }
    }

    /**
     * The bytes {@code [offset, offset + length)} of the buffer.
     *
     * @throws SidecarException OUT_OF_RANGE when the range is empty or not inside the buffer
     */
    MemorySegment slice(long offset, long length) {
        if (offset < 0 || length < 1 || offset > slab.bytes() - length) {
            throw new SidecarException(SidecarProtocol.OUT_OF_RANGE, "range [" + offset + ", +" + length
                    + ") lies outside buffer " + id + " of " + slab.bytes() + " bytes");
        }
        return slab.memory().asSlice(offset, length);
    }
}
