package dev.ferry.transfer.segment;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The segments this process serves, by name. Thread-safe; lookups do not allocate.
 */
public final class LocalSegments {
    private final Map<String, MemorySegment> byName = new ConcurrentHashMap<>();

    /**
     * @throws IllegalArgumentException if the name is already registered
     */
    public void register(String name, MemorySegment memory) {
        if (byName.putIfAbsent(name, memory) != null) {
            throw new IllegalArgumentException("segment '" + name + "' is already registered");
        }
    }

    /** Removes a segment; peers then get "unknown segment" for it. */
    public void unregister(String name) {
        byName.remove(name);
    }

    /** The segment's memory, or null when none has this name. */
    public MemorySegment find(String name) {
        return byName.get(name);
    }
}
