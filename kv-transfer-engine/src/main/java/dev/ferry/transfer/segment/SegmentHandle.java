package dev.ferry.transfer.segment;

import java.lang.foreign.MemorySegment;

/**
 * A registered segment resolved once from its name: its memory, and whether it is still
 * registered. Servers keep the handle of the segment their last request named, so a run of
 * requests to one segment costs one name comparison each rather than a lookup and a string;
 * {@link #registered()} turns false when the segment is unregistered, so a kept handle never
 * serves a segment that is gone.
 *
 * <p>Thread-safe (immutable but for the registration flag, which is volatile).
 */
public final class SegmentHandle {
    private final String name;
    private final MemorySegment memory;
    private volatile boolean registered = true;

    SegmentHandle(String name, MemorySegment memory) {
        this.name = name;
        this.memory = memory;
    }

    /** The name the segment was registered under. */
    public String name() {
        return name;
    }

    /** The segment's memory. */
    public MemorySegment memory() {
        return memory;
    }

    /** Bytes in the segment. */
    public long bytes() {
        return memory.byteSize();
    }

    /** Whether the segment is still registered (false once {@link LocalSegments#unregister} ran). */
    public boolean registered() {
        return registered;
    }

    void unregistered() {
        registered = false;
    }
}
