package dev.ferry.store.alloc;

import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Carves ranges out of one segment: best-fit over a free list, with neighbours coalesced
 * on free, every range rounded up to {@link #ALIGNMENT} bytes.
 *
 * <p>Why best-fit with coalescing: KV blocks of one model profile all have one size, so the
 * free list degenerates to equal holes and allocation never fragments; with mixed profiles,
 * best-fit keeps large holes for large blocks (Wilson et al., "Dynamic Storage Allocation:
 * A Survey and Critical Review", 1995, found best-fit among the least fragmenting
 * policies). Mooncake's offset allocator makes the same choice of bins by size. O(log n)
 * per call.
 *
 * <p>Not thread-safe: the master calls it under its own lock.
 */
public final class OffsetAllocator {
    /** Alignment of every range, bytes. */
    public static final long ALIGNMENT = 4096;

    private final long capacity;
    private final TreeMap<Long, Long> freeByOffset = new TreeMap<>();
    private final TreeMap<Long, TreeSet<Long>> freeBySize = new TreeMap<>();
    private long freeBytes;

    /** @param capacity bytes to manage, from offset 0 */
    public OffsetAllocator(long capacity) {
        this.capacity = capacity;
        long usable = capacity - capacity % ALIGNMENT;
        if (usable > 0) {
            addFree(0, usable);
        }
    }

    /**
     * An allocator of {@code capacity} bytes with nothing free: ranges enter it through
     * {@link #free} (a set of ranges granted ahead, carved with {@link #allocate} and
     * {@link #reserve}).
     */
    public static OffsetAllocator empty(long capacity) {
        OffsetAllocator a = new OffsetAllocator(capacity);
        a.takeAll();
        return a;
    }

    /**
     * Takes every free range out, lowest offset first.
     *
     * @return the ranges taken, each {@code {offset, bytes}}
     */
    public java.util.List<long[]> takeAll() {
        java.util.List<long[]> out = new java.util.ArrayList<>(freeByOffset.size());
        for (Map.Entry<Long, Long> e : freeByOffset.entrySet()) {
            out.add(new long[] {e.getKey(), e.getValue()});
        }
        freeByOffset.clear();
        freeBySize.clear();
        freeBytes = 0;
        return out;
    }

    /** Rounds {@code bytes} up to the alignment. */
    public static long aligned(long bytes) {
        return (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /**
     * @param bytes length wanted, at least 1
     * @return the offset of a free range of {@code aligned(bytes)} bytes, or -1 if none fits
     */
    public long allocate(long bytes) {
        long size = aligned(bytes);
        Map.Entry<Long, TreeSet<Long>> bin = freeBySize.ceilingEntry(size);
        if (bin == null) {
            return -1;
        }
        long holeSize = bin.getKey();
        long offset = bin.getValue().first();
        removeFree(offset, holeSize);
        if (holeSize > size) {
            addFree(offset + size, holeSize - size);
        }
        return offset;
    }

    /** Returns a range from {@link #allocate}; merges it with free neighbours. */
    public void free(long offset, long bytes) {
        long size = aligned(bytes);
        Map.Entry<Long, Long> before = freeByOffset.floorEntry(offset);
        if (before != null && before.getKey() + before.getValue() > offset) {
            throw new IllegalStateException("double free of [" + offset + ", " + (offset + size) + ")");
        }
        long start = offset;
        long end = offset + size;
        if (before != null && before.getKey() + before.getValue() == offset) {
            start = before.getKey();
            removeFree(before.getKey(), before.getValue());
        }
        Long afterSize = freeByOffset.get(end);
        if (afterSize != null) {
            removeFree(end, afterSize);
            end += afterSize;
        }
        addFree(start, end - start);
    }

    /**
     * Takes a given range out of the free list (a restarted node re-registers the blocks it
     * kept, at their offsets).
     *
     * @return false, changing nothing, when any part of the range is not free
     */
    public boolean reserve(long offset, long bytes) {
        long size = aligned(bytes);
        if (offset < 0 || offset % ALIGNMENT != 0) {
            return false;
        }
        Map.Entry<Long, Long> hole = freeByOffset.floorEntry(offset);
        if (hole == null || hole.getKey() + hole.getValue() < offset + size) {
            return false;
        }
        long start = hole.getKey();
        long end = start + hole.getValue();
        removeFree(start, end - start);
        if (offset > start) {
            addFree(start, offset - start);
        }
        if (end > offset + size) {
            addFree(offset + size, end - offset - size);
        }
        return true;
    }

    /** Free bytes. */
    public long freeBytes() {
        return freeBytes;
    }

    /** Managed bytes. */
    public long capacity() {
        return capacity;
    }

    /** The largest range that {@link #allocate} could return now, bytes. */
    public long largestFree() {
        return freeBySize.isEmpty() ? 0 : freeBySize.lastKey();
    }

    private void addFree(long offset, long size) {
        freeByOffset.put(offset, size);
        freeBySize.computeIfAbsent(size, k -> new TreeSet<>()).add(offset);
        freeBytes += size;
    }

    private void removeFree(long offset, long size) {
        freeByOffset.remove(offset);
        TreeSet<Long> offsets = freeBySize.get(size);
        offsets.remove(offset);
        if (offsets.isEmpty()) {
            freeBySize.remove(size);
        }
        freeBytes -= size;
    }
}
