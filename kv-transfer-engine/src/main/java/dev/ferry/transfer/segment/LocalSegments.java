package dev.ferry.transfer.segment;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The segments this process serves, by name, each as a {@link SegmentHandle}. Thread-safe;
 * lookups do not allocate.
 */
public final class LocalSegments {
    private final Map<String, SegmentHandle> byName = new ConcurrentHashMap<>();

    /**
     * @throws IllegalArgumentException if the name is already registered
     */
    public void register(String name, MemorySegment memory) {
        if (byName.putIfAbsent(name, new SegmentHandle(name, memory)) != null) {
            throw new IllegalArgumentException("segment '" + name + "' is already registered");
        }
    }

    /** Removes a segment; peers then get "unknown segment" for it, and its handles report it gone. */
    public void unregister(String name) {
        SegmentHandle handle = byName.remove(name);
        if (handle != null) {
            handle.unregistered();
        }
    }

    /** The segment's memory, or null when none has this name. */
    public MemorySegment find(String name) {
        SegmentHandle handle = byName.get(name);
        return handle == null ? null : handle.memory();
    }

    /** The segment's handle, or null when none has this name. */
    public SegmentHandle handle(String name) {
        return byName.get(name);
    }
}
