package dev.ferry.store.gpu;

import dev.ferry.nativemem.device.CopyCompletion;
import dev.ferry.nativemem.device.DeviceException;
import dev.ferry.nativemem.device.DeviceMemory;
import dev.ferry.nativemem.device.DevicePool;
import dev.ferry.nativemem.device.DeviceStream;
import dev.ferry.nativemem.device.HostRegistration;
import dev.ferry.store.alloc.OffsetAllocator;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The GPU tier of one node: blocks, keyed by {@code K} (any type with value equality), held in
 * one pool of device memory of {@code capacityBytes}, carved by an {@link OffsetAllocator}
 * (ranges rounded up to {@link OffsetAllocator#ALIGNMENT}). Copies run on one stream of the
 * device: a put queues the block's copy to the device and the block becomes readable when it
 * completes; a read queues a copy to the host; {@link #copyDown} queues a copy to a DRAM range,
 * after which an eviction loses nothing. A range is never freed while a copy in flight uses it.
 *
 * <p>Completions are observed, not called back: every method first settles the copies that have
 * completed (so states move on without threads of their own), and {@link #await(Object)} blocks
 * until one block's copies are done. A copy that the device reports failed is counted; a failed
 * put removes its block, a failed copy down leaves the block not copied down.
 *
 * <p>Mechanism only: which blocks land here, are copied down or are evicted is decided by the
 * caller. Host memory passed to a put, read or copy down must stay valid and unchanged until
 * that copy completes; registering DRAM slabs ({@link #registerDram}) makes those copies DMA.
 *
 * <p>Owns its pool, its stream and its registrations, not the {@link DeviceMemory}. Thread-safe:
 * metadata changes under one lock; waiting for copies happens outside it.
 *
 * @param <K> the block key type
 */
public final class GpuTier<K> implements AutoCloseable {
    private final DeviceMemory memory;
    private final DevicePool pool;
    private final DeviceStream stream;
    private final OffsetAllocator allocator;
    private final Map<K, GpuCopy> blocks = new HashMap<>();
    private final List<GpuCopy.Pending> pending = new ArrayList<>();
    private final List<HostRegistration> registrations = new ArrayList<>();
    private long tick;
    private long puts;
    private long reads;
    private long copiesDown;
    private long evictions;
    private long failedCopies;
    private long batches;
    private boolean closed;

    /**
     * Allocates the tier's pool on {@code memory}.
     *
     * @param memory        the device memory (not owned: close it after the tier)
     * @param capacityBytes the pool's size, bytes, at least {@link OffsetAllocator#ALIGNMENT}
     * @throws IllegalArgumentException when the capacity is below one aligned block
     * @throws dev.ferry.nativemem.device.DeviceOutOfMemoryException when the device cannot hold the pool
     */
    public GpuTier(DeviceMemory memory, long capacityBytes) {
        if (capacityBytes < OffsetAllocator.ALIGNMENT) {
            throw new IllegalArgumentException("GPU tier capacity must be at least " + OffsetAllocator.ALIGNMENT
                    + " bytes, was " + capacityBytes);
        }
        this.memory = Objects.requireNonNull(memory, "memory");
        DevicePool allocated = memory.allocate(capacityBytes);
        DeviceStream opened = null;
        try {
            opened = memory.openStream();
        } finally {
            if (opened == null) {
                allocated.close();
            }
        }
        this.pool = allocated;
        this.stream = opened;
        this.allocator = new OffsetAllocator(capacityBytes);
    }

    /** The device memory the tier lives in (for its kind and description). */
    public DeviceMemory memory() {
        return memory;
    }

    /**
     * Page-locks a DRAM range (a slab) for DMA to and from the device, until the tier closes.
     *
     * @throws dev.ferry.nativemem.device.DeviceException when the driver refuses
     */
    public synchronized void registerDram(MemorySegment slab) {
        requireOpen();
        registrations.add(memory.register(slab));
    }

    /**
     * Allocates a range for {@code key} and queues the copy of all of {@code src} into it; the
     * block is readable once the returned completion is done (and settled by a later call).
     *
     * @param src the block's bytes, native memory, at least 1 byte
     * @throws IllegalStateException   when the tier holds {@code key} already, or is closed
     * @throws GpuTierFullException    when no free range fits (nothing changed)
     * @throws IllegalArgumentException when {@code src} is empty or not native
     */
    public synchronized CopyCompletion put(K key, MemorySegment src) {
        Objects.requireNonNull(key, "key");
        requireOpen();
        settle();
        if (src.byteSize() < 1) {
            throw new IllegalArgumentException("a block holds at least 1 byte");
        }
        if (blocks.containsKey(key)) {
            throw new IllegalStateException("the GPU tier holds " + key + " already");
        }
        long offset = allocator.allocate(src.byteSize());
        if (offset < 0) {
            throw new GpuTierFullException(OffsetAllocator.aligned(src.byteSize()), allocator.freeBytes(),
                    allocator.largestFree());
        }
        GpuCopy copy = new GpuCopy(offset, src.byteSize());
        CopyCompletion completion;
        try {
            completion = pool.copyInAsync(offset, src, stream);
        } catch (RuntimeException | Error e) {
            allocator.free(offset, src.byteSize());
            throw e;
        }
        copy.lastUse = ++tick;
        blocks.put(key, copy);
        track(key, copy, GpuCopy.Kind.LOAD, completion);
        puts++;
        return completion;
    }

    /**
     * Queues a copy of the block to {@code dst} (a read, a hit); the range stays held until it completes.
     *
     * @param dst host memory of exactly the block's length
     * @return the completion, or empty when the tier does not hold a readable copy of {@code key}
     * @throws IllegalArgumentException when {@code dst} is not of the block's length
     */
    public synchronized Optional<CopyCompletion> read(K key, MemorySegment dst) {
        requireOpen();
        settle();
        GpuCopy copy = blocks.get(key);
        if (copy == null || copy.residency != GpuCopy.Residency.RESIDENT) {
            return Optional.empty();
        }
        requireLength(key, copy, dst);
        CopyCompletion completion = pool.copyOutAsync(copy.offset, dst, stream);
        copy.lastUse = ++tick;
        track(key, copy, GpuCopy.Kind.READ, completion);
        reads++;
        return Optional.of(completion);
    }

    /**
     * Queues the reads of several blocks as one batched copy ({@link DevicePool#gatherOutBatchedAsync}):
     * the blocks are gathered within the device into a scratch range of the pool, then copied to
     * {@code run} with one copy to the host. Every block's range, and the scratch range, stay held
     * until the completion.
     *
     * @param keys blocks the tier holds readable copies of, each once
     * @param run  host memory of exactly the blocks' lengths together, which receives them in order
     * @return the completion, or empty (nothing queued) when a block is not readable here or the
     *         pool has no free range for the scratch
     * @throws IllegalArgumentException when {@code keys} is empty or {@code run} is not the blocks' total length
     */
    public synchronized Optional<CopyCompletion> readBatched(List<K> keys, MemorySegment run) {
        requireOpen();
        settle();
        if (keys.isEmpty()) {
            throw new IllegalArgumentException("a batched read needs at least one block");
        }
        GpuCopy[] copies = new GpuCopy[keys.size()];
        long[] offsets = new long[copies.length];
        long[] lengths = new long[copies.length];
        long total = 0;
        for (int i = 0; i < copies.length; i++) {
            copies[i] = blocks.get(keys.get(i));
            if (copies[i] == null || copies[i].residency != GpuCopy.Residency.RESIDENT) {
                return Optional.empty();
            }
            offsets[i] = copies[i].offset;
            lengths[i] = copies[i].length;
            total += lengths[i];
        }
        if (run.byteSize() != total) {
            throw new IllegalArgumentException("blocks hold " + total + " bytes, host run " + run.byteSize());
        }
        long scratch = allocator.allocate(total);
        if (scratch < 0) {
            return Optional.empty();
        }
        CopyCompletion completion;
        try {
            completion = pool.gatherOutBatchedAsync(offsets, lengths, run, scratch, stream);
        } catch (RuntimeException | Error e) {
            allocator.free(scratch, total);
            throw e;
        }
        for (int i = 0; i < copies.length; i++) {
            copies[i].lastUse = ++tick;
            track(keys.get(i), copies[i], GpuCopy.Kind.READ, completion);
        }
        trackScratch(scratch, total, completion);
        reads += copies.length;
        batches++;
        return Optional.of(completion);
    }

    /**
     * Puts several blocks with one batched copy ({@link DevicePool#scatterInBatchedAsync}): all of
     * {@code run} is copied to a scratch range of the pool with one copy from the host, then
     * scattered within the device to each block's range. The blocks are readable once the
     * completion is done (and settled by a later call), as after {@link #put}.
     *
     * @param keys    blocks the tier does not hold, each once
     * @param run     the blocks' bytes one after another, native memory
     * @param lengths each block's length, bytes, at least 1
     * @return the completion, or empty (nothing changed) when the pool has no free range for a
     *         block or for the scratch
     * @throws IllegalStateException    when the tier holds one of the keys already, or is closed
     * @throws IllegalArgumentException when {@code keys} is empty, the lengths differ from the
     *                                  keys in number, or {@code run} is not their total
     */
    public synchronized Optional<CopyCompletion> putBatched(List<K> keys, MemorySegment run, long[] lengths) {
        requireOpen();
        settle();
        if (keys.isEmpty() || keys.size() != lengths.length) {
            throw new IllegalArgumentException(keys.size() + " keys and " + lengths.length + " lengths for a batched put");
        }
        long total = 0;
        for (int i = 0; i < lengths.length; i++) {
            if (lengths[i] < 1) {
                throw new IllegalArgumentException("a block holds at least 1 byte");
            }
            if (blocks.containsKey(keys.get(i)) || keys.subList(0, i).contains(keys.get(i))) {
                throw new IllegalStateException("the GPU tier holds " + keys.get(i) + " already");
            }
            total += lengths[i];
        }
        if (run.byteSize() != total) {
            throw new IllegalArgumentException("blocks hold " + total + " bytes, host run " + run.byteSize());
        }
        long[] offsets = new long[lengths.length];
        int placed = 0;
        long scratch = -1;
        try {
            for (; placed < lengths.length; placed++) {
                offsets[placed] = allocator.allocate(lengths[placed]);
                if (offsets[placed] < 0) {
                    return Optional.empty();
                }
            }
            scratch = allocator.allocate(total);
            if (scratch < 0) {
                return Optional.empty();
            }
            CopyCompletion completion = pool.scatterInBatchedAsync(run, offsets, lengths, scratch, stream);
            for (int i = 0; i < lengths.length; i++) {
                GpuCopy copy = new GpuCopy(offsets[i], lengths[i]);
                copy.lastUse = ++tick;
                blocks.put(keys.get(i), copy);
                track(keys.get(i), copy, GpuCopy.Kind.LOAD, completion);
            }
            trackScratch(scratch, total, completion);
            puts += lengths.length;
            batches++;
            placed = -1; // held by the blocks now
            return Optional.of(completion);
        } finally {
            if (placed >= 0) {
                for (int i = 0; i < placed; i++) {
                    allocator.free(offsets[i], lengths[i]);
                }
                if (scratch >= 0) {
                    allocator.free(scratch, total);
                }
            }
        }
    }

    /**
     * Queues a copy of the block into {@code target} at {@code targetOffset} on the same device:
     * a hit for the engine this tier sits next to, whose KV buffers are device memory too, so the
     * bytes never cross to the host.
     *
     * @param target a pool of the same device memory (the engine's buffers)
     * @return the completion, or empty when the tier does not hold a readable copy of {@code key}
     * @throws IndexOutOfBoundsException when the block does not fit in {@code target} at {@code targetOffset}
     * @throws IllegalArgumentException  when {@code target} belongs to another device memory
     */
    public synchronized Optional<CopyCompletion> readToDevice(K key, DevicePool target, long targetOffset) {
        requireOpen();
        settle();
        GpuCopy copy = blocks.get(key);
        if (copy == null || copy.residency != GpuCopy.Residency.RESIDENT) {
            return Optional.empty();
        }
        CopyCompletion completion = pool.copyToAsync(copy.offset, target, targetOffset, copy.length, stream);
        copy.lastUse = ++tick;
        track(key, copy, GpuCopy.Kind.READ, completion);
        reads++;
        return Optional.of(completion);
    }

    /**
     * Queues a copy of the block down to {@code dramRange} (a range of a DRAM slab); once it
     * completes the block counts as copied down. Copying a block down twice is allowed (the second
     * copy goes to the new range).
     *
     * @throws IllegalStateException    when the tier has no readable copy of {@code key}
     * @throws IllegalArgumentException when {@code dramRange} is not of the block's length
     */
    public synchronized CopyCompletion copyDown(K key, MemorySegment dramRange) {
        requireOpen();
        settle();
        GpuCopy copy = blocks.get(key);
        if (copy == null || copy.residency != GpuCopy.Residency.RESIDENT) {
            throw new IllegalStateException("the GPU tier has no readable copy of " + key + " to copy down");
        }
        requireLength(key, copy, dramRange);
        CopyCompletion completion = pool.copyOutAsync(copy.offset, dramRange, stream);
        copy.down = GpuCopy.Down.COPYING;
        track(key, copy, GpuCopy.Kind.COPY_DOWN, completion);
        return completion;
    }

    /**
     * Records that the tier below holds the block's bytes already (the block was promoted from
     * there), so that an eviction loses nothing and {@link #evictable()} orders it accordingly.
     *
     * @return false when the tier does not hold {@code key}
     */
    public synchronized boolean markCopiedDown(K key) {
        requireOpen();
        settle();
        GpuCopy copy = blocks.get(key);
        if (copy == null) {
            return false;
        }
        copy.down = GpuCopy.Down.COPIED;
        return true;
    }

    /**
     * Frees the block's range, unless a copy in flight uses it.
     *
     * @return {@link Eviction#EVICTED}, {@link Eviction#BUSY} (nothing changed) or {@link Eviction#ABSENT}
     */
    public synchronized Eviction evict(K key) {
        requireOpen();
        settle();
        GpuCopy copy = blocks.get(key);
        if (copy == null) {
            return Eviction.ABSENT;
        }
        if (copy.busy()) {
            return Eviction.BUSY;
        }
        blocks.remove(key);
        allocator.free(copy.offset, copy.length);
        evictions++;
        return Eviction.EVICTED;
    }

    /** What {@link #evict} did. */
    public enum Eviction {
        /** The range was freed. */
        EVICTED,
        /** A copy in flight uses the range; nothing changed. */
        BUSY,
        /** The tier does not hold the block. */
        ABSENT
    }

    /** The block's state now, or empty when the tier does not hold it. */
    public synchronized Optional<GpuBlock> block(K key) {
        requireOpen();
        settle();
        GpuCopy copy = blocks.get(key);
        return copy == null ? Optional.empty() : Optional.of(new GpuBlock(copy.offset, copy.length,
                copy.residency == GpuCopy.Residency.RESIDENT, copy.down == GpuCopy.Down.COPIED, copy.busy()));
    }

    /**
     * The blocks that {@link #evict} would free now, coldest (least recently put or read) first;
     * those already copied down come before those that are not, since evicting them loses nothing.
     */
    public synchronized List<K> evictable() {
        requireOpen();
        settle();
        List<Map.Entry<K, GpuCopy>> idle = new ArrayList<>();
        for (Map.Entry<K, GpuCopy> e : blocks.entrySet()) {
            if (!e.getValue().busy()) {
                idle.add(e);
            }
        }
        idle.sort((a, b) -> {
            boolean aDown = a.getValue().down == GpuCopy.Down.COPIED;
            boolean bDown = b.getValue().down == GpuCopy.Down.COPIED;
            return aDown != bDown ? (aDown ? -1 : 1) : Long.compare(a.getValue().lastUse, b.getValue().lastUse);
        });
        return idle.stream().map(Map.Entry::getKey).toList();
    }

    /**
     * Blocks until every copy in flight on {@code key}'s block has completed, then settles them.
     *
     * @throws DeviceException when one of them failed (the state was settled first)
     */
    public void await(K key) {
        List<CopyCompletion> waits = new ArrayList<>();
        synchronized (this) {
            requireOpen();
            for (GpuCopy.Pending p : pending) {
                if (p.key().equals(key)) {
                    waits.add(p.completion());
                }
            }
        }
        DeviceException failed = null;
        for (CopyCompletion c : waits) {
            try {
                c.await();
            } catch (DeviceException e) {
                failed = e;
            }
        }
        synchronized (this) {
            if (!closed) {
                settle();
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    /** Blocks held (loading or readable). */
    public synchronized int size() {
        return blocks.size();
    }

    /** The pool's size, bytes. */
    public long capacityBytes() {
        return pool.bytes();
    }

    /** Bytes not held by any block. */
    public synchronized long freeBytes() {
        settle();
        return allocator.freeBytes();
    }

    /** The largest block that a put could place now, bytes. */
    public synchronized long largestFree() {
        settle();
        return allocator.largestFree();
    }

    /** Counts since the tier opened. */
    public synchronized GpuTierCounters counters() {
        settle();
        return new GpuTierCounters(puts, reads, copiesDown, evictions, failedCopies, batches);
    }

    /** Waits for the copies in flight, then frees the pool and unregisters the DRAM ranges. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            stream.close();
        } finally {
            try {
                pool.close();
            } finally {
                closeRegistrations();
            }
        }
    }

    private void closeRegistrations() {
        RuntimeException first = null;
        for (HostRegistration r : registrations.reversed()) {
            try {
                r.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        registrations.clear();
        if (first != null) {
            throw first;
        }
    }

    /** A scratch range of a batched copy: freed when the copy completes. */
    private void trackScratch(long offset, long length, CopyCompletion completion) {
        GpuCopy scratch = new GpuCopy(offset, length);
        scratch.inFlight++;
        pending.add(new GpuCopy.Pending(scratch, scratch, GpuCopy.Kind.SCRATCH, completion));
    }

    private void track(K key, GpuCopy copy, GpuCopy.Kind kind, CopyCompletion completion) {
        copy.inFlight++;
        pending.add(new GpuCopy.Pending(key, copy, kind, completion));
    }

    /** Moves the states of blocks whose copies have completed. Under the lock. */
    private void settle() {
        for (Iterator<GpuCopy.Pending> it = pending.iterator(); it.hasNext(); ) {
            GpuCopy.Pending p = it.next();
            boolean ok;
            try {
                if (!p.completion().isDone()) {
                    continue;
                }
                p.completion().await();
                ok = true;
            } catch (DeviceException e) {
                ok = false;
                if (p.kind() != GpuCopy.Kind.SCRATCH) { // a batched copy's failure counts once per block
                    failedCopies++;
                }
            }
            it.remove();
            GpuCopy copy = p.copy();
            copy.inFlight--;
            switch (p.kind()) {
                case LOAD -> {
                    if (ok) {
                        copy.residency = GpuCopy.Residency.RESIDENT;
                    } else {
                        drop(p.key(), copy);
                    }
                }
                case COPY_DOWN -> {
                    if (copy.down == GpuCopy.Down.COPYING) {
                        copy.down = ok ? GpuCopy.Down.COPIED : GpuCopy.Down.NONE;
                    }
                    if (ok) {
                        copiesDown++;
                    }
                }
                case READ -> {
                    // nothing but the range's release
                }
                case SCRATCH -> allocator.free(copy.offset, copy.length);
            }
        }
    }

    private void drop(Object key, GpuCopy copy) {
        if (blocks.get(key) == copy) {
            blocks.remove(key);
            allocator.free(copy.offset, copy.length);
        }
    }

    private void requireLength(K key, GpuCopy copy, MemorySegment host) {
        if (host.byteSize() != copy.length) {
            throw new IllegalArgumentException("block " + key + " holds " + copy.length + " bytes, host range "
                    + host.byteSize());
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("GPU tier is closed");
        }
    }
}
