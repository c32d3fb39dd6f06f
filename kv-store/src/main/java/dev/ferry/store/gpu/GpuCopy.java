package dev.ferry.store.gpu;

import dev.ferry.nativemem.device.CopyCompletion;

/**
 * One block's copy in the GPU tier: its range in the pool, whether it is readable yet
 * ({@link Residency}), whether DRAM holds the same bytes ({@link Down}), and the copies in
 * flight that keep it from being evicted. Changed only by {@link GpuTier}, under its lock.
 */
final class GpuCopy {
    /** Whether the block's bytes are on the device yet. */
    enum Residency {
        /** The copy from the host is in flight: not readable. */
        LOADING,
        /** Readable. */
        RESIDENT
    }

    /** Whether the tier below holds the same bytes (then an eviction loses nothing). */
    enum Down {
        /** Not copied down. */
        NONE,
        /** A copy to a DRAM range is in flight. */
        COPYING,
        /** Copied to a DRAM range. */
        COPIED
    }

    final long offset;
    final long length;
    Residency residency = Residency.LOADING;
    Down down = Down.NONE;
    /** Copies in flight that read or write this block's range. */
    int inFlight;
    /** Tick of the last put or read: smaller is colder. */
    long lastUse;

    GpuCopy(long offset, long length) {
        this.offset = offset;
        this.length = length;
    }

    /** Whether a copy in flight still uses the range (it must not be freed). */
    boolean busy() {
        return inFlight > 0;
    }

    /** A copy in flight on this block and what its completion does to the state. */
    record Pending(Object key, GpuCopy copy, Kind kind, CopyCompletion completion) {
    }

    /** What a pending copy is. */
    enum Kind {
        /** Host to device (a put). */
        LOAD,
        /** Device to host (a read). */
        READ,
        /** Device to a DRAM range (a copy down). */
        COPY_DOWN,
        /** The scratch range of a batched copy (keyed by itself): freed when the copy completes. */
        SCRATCH
    }

    @Override
    public String toString() {
        return "@" + offset + "+" + length + "[" + residency + "," + down + (inFlight > 0 ? ",busy " + inFlight : "") + "]";
    }
}
