package dev.ferry.store.sidecar;

import dev.ferry.nativemem.MappingPopulator;
import dev.ferry.nativemem.Slab;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A client's shared-memory buffer as the sidecar maps it: a sealed memfd that the client
 * created and registered ({@link BufferAdmission}), used directly as the source of puts and
 * the destination of gets. Reference-counted (Netty style): registration holds one
 * reference and each request using it one more; the mapping is unmapped when the last is
 * released, so unregistering a buffer, or a client disconnecting, while a transfer still
 * uses it cannot pull memory from under the transfer. The sidecar's mapping is populated in
 * the background after registration ({@link #populateWith}), so that the first copy to or from
 * each page does not take a page fault of the sidecar's own; the last release stops that
 * first (within one {@link MappingPopulator#CHUNK_BYTES} chunk).
 *
 * <p>Thread-safe.
 */
final class SharedBuffer {
    private final int id;
    private final Slab slab;
    private final AtomicInteger refs = new AtomicInteger(1);
    private volatile MappingPopulator.Job populating;

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

    /** Drops a reference; the last one stops populating and unmaps the file (which stays: it is the client's). */
    void release() {
        if (refs.decrementAndGet() == 0) {
            MappingPopulator.Job job = populating;
            if (job != null) {
                job.cancelAndAwait();
            }
            slab.close();
        }
    }

    /**
     * Starts populating the sidecar's mapping on {@code populator}'s thread; nothing when the
     * buffer is unmapped already. Populating maps the client's pages without changing them.
     */
    void populateWith(MappingPopulator populator) {
        if (!retain()) {
            return;
        }
        try {
            populating = populator.start(slab);
        } finally {
            release();
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
