package dev.ferry.store.gpu;

import dev.ferry.nativemem.device.CopyCompletion;
import dev.ferry.nativemem.device.DeviceChoice;
import dev.ferry.nativemem.device.DeviceMemories;
import dev.ferry.nativemem.device.DeviceMemory;
import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.device.HostRegistration;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The GPU tier of the engine a prefill or decode node sits next to, as the store client sees it
 * ({@link EngineTier}): the policy over one {@link GpuTier}. A new block lands here first and is
 * copied back down into the put's staging range (registered with the device,
 * {@link #registerStaging}), which the put then writes to DRAM; a block read from the store is
 * promoted here; a block whose copy here matches the committed CRC32C and length is served from
 * here without a transfer. Room is made by evicting blocks in {@link GpuTier#evictable()} order:
 * those whose bytes DRAM holds first, least recently used first. Every block held here has a DRAM
 * copy once its put commits (it is copied down before), so an eviction loses nothing, and neither
 * does a restart: the GPU tier of a new process is empty and its reads go to DRAM. With a
 * {@link GpuTierIndex}, the new process learns which blocks the old one held
 * ({@link #lostAtStart()}), to tell the master.
 *
 * <p>The hits of a window ({@link #readAll}) and its promotions ({@link #promoteAll}) are
 * copied with one batched copy ({@link GpuTier#readBatched}, {@link GpuTier#putBatched}, through
 * a registered host run of this cache's own) where {@link #batching()} says it is faster for
 * their number and size, else one copy per block.
 *
 * <p>The master learns which blocks are held here from a reporter ({@link #heldKeys()},
 * {@link #drainChanges()}, sent off the hot path), as a locality map only. Validation, not
 * notification, keeps a copy here correct: a get holds a lease on every key it reads, which
 * gives the committed CRC32C; a copy here with another CRC32C or length (the key was removed
 * and written again) is dropped and the block read from the store, and a key the store no
 * longer holds is {@linkplain #forget forgotten}.
 *
 * <p>A full tier never fails a put or a get: the block is then simply not held here
 * ({@link GpuCacheCounters#full()}). Thread-safe: one lock; copies are awaited under it, so every
 * block is idle between calls (the device has one stream for the tier anyway). Owns the
 * {@link GpuTier}, not the {@link DeviceMemory}.
 */
public final class GpuBlockCache implements EngineTier, AutoCloseable {
    private final GpuTier<BlockKey> tier;
    /** The device memory when this cache opened it (and closes it), else null. */
    private final DeviceMemory owned;
    /** The local index of the blocks held, or null for none. */
    private final GpuTierIndex index;
    private final Map<BlockKey, Integer> crcs = new HashMap<>();
    /** Changes of the blocks held since the last {@link #drainChanges()} (true: held), or null before the first. */
    private Map<BlockKey, Boolean> changes;
    /** When many small blocks are copied with one batched copy. */
    private final CopyBatching batching;
    /** Host memory for batched copies, registered with the device; grown on demand, null until the first. */
    private Arena runArena;
    private MemorySegment run;
    private HostRegistration runRegistration;
    private long landed;
    private long batchedBlocks;
    private long promoted;
    private long hits;
    private long misses;
    private long stale;
    private long evicted;
    private long full;

    /**
     * @param memory        the device memory (CUDA, or host memory standing in); not owned
     * @param capacityBytes the tier's pool, bytes, at least {@link OffsetAllocator#ALIGNMENT}
     * @throws IllegalArgumentException when the capacity is below one aligned block
     * @throws dev.ferry.nativemem.device.DeviceOutOfMemoryException when the device cannot hold the pool
     */
    public GpuBlockCache(DeviceMemory memory, long capacityBytes) {
        this(memory, capacityBytes, null, null, CopyBatching.NEVER);
    }

    /**
     * With a local index of the blocks held, which tells the next process what this one lost.
     *
     * @param index the index (owned from now on), or null for none
     */
    public GpuBlockCache(DeviceMemory memory, long capacityBytes, GpuTierIndex index) {
        this(memory, capacityBytes, null, index, CopyBatching.NEVER);
    }

    /**
     * With a choice of when many small blocks are copied with one batched copy.
     *
     * @param index    the index (owned from now on), or null for none
     * @param batching when to batch ({@link CopyBatching#NEVER}: every block on its own), or null
     *                 to {@linkplain CopyBatching#measure measure} it on the empty tier now
     */
    public GpuBlockCache(DeviceMemory memory, long capacityBytes, GpuTierIndex index, CopyBatching batching) {
        this(memory, capacityBytes, null, index, batching);
    }

    private GpuBlockCache(DeviceMemory memory, long capacityBytes, DeviceMemory owned, GpuTierIndex index,
                          CopyBatching batching) {
        this.tier = new GpuTier<>(Objects.requireNonNull(memory, "memory"), capacityBytes);
        this.owned = owned;
        this.index = index;
        CopyBatching chosen = batching;
        try {
            if (chosen == null) {
                chosen = CopyBatching.measure(tier, i -> BlockKey.of(-1 - i));
            }
        } finally {
            if (chosen == null) {
                tier.close();
            }
        }
        this.batching = chosen;
    }

    /**
     * Opens the device memory {@code choice} asks for ({@link DeviceMemories}: CUDA device 0, or
     * host memory of {@code capacityBytes} standing in) and a cache of {@code capacityBytes} on it;
     * the cache owns the device memory and closes it.
     *
     * @throws dev.ferry.nativemem.device.DeviceUnavailableException when CUDA is asked for and absent
     * @throws dev.ferry.nativemem.device.DeviceOutOfMemoryException when the device cannot hold the pool
     * @throws IllegalArgumentException when the capacity is below one aligned block
     */
    public static GpuBlockCache open(DeviceChoice choice, long capacityBytes) {
        return open(choice, capacityBytes, null);
    }

    /**
     * As {@link #open(DeviceChoice, long)}, with a local index at {@code indexFile} (null for none):
     * {@link #lostAtStart()} then lists what the previous process's GPU tier held. When to batch
     * copies of many small blocks is {@linkplain CopyBatching#measure measured} on the device
     * first ({@link #batching()}).
     *
     * @throws java.io.UncheckedIOException when the index cannot be read or written
     */
    public static GpuBlockCache open(DeviceChoice choice, long capacityBytes, java.nio.file.Path indexFile) {
        if (capacityBytes < OffsetAllocator.ALIGNMENT) {
            throw new IllegalArgumentException("GPU tier capacity must be at least " + OffsetAllocator.ALIGNMENT
                    + " bytes, was " + capacityBytes);
        }
        DeviceMemory memory = DeviceMemories.open(choice, 0, capacityBytes);
        GpuTierIndex index = null;
        GpuBlockCache cache = null;
        try {
            index = indexFile == null ? null : new GpuTierIndex(indexFile);
            cache = new GpuBlockCache(memory, capacityBytes, memory, index, null);
            return cache;
        } finally {
            if (cache == null) {
                try {
                    if (index != null) {
                        index.close();
                    }
                } finally {
                    memory.close();
                }
            }
        }
    }

    /** @throws dev.ferry.nativemem.device.DeviceException when the driver refuses */
    @Override
    public synchronized void registerStaging(MemorySegment staging) {
        tier.registerDram(staging);
    }

    @Override
    public synchronized void land(BlockKey key, MemorySegment block, int crc32c) {
        if (!place(key, block, crc32c)) {
            return;
        }
        tier.copyDown(key, block);
        tier.await(key);
        landed++;
    }

    @Override
    public synchronized boolean read(BlockKey key, long length, int crc32c, MemorySegment dst) {
        return readAll(new BlockKey[] {key}, new long[] {length}, new int[] {crc32c}, new MemorySegment[] {dst},
                new boolean[1], 1) == 1;
    }

    /**
     * Queues the copies of every block held (and valid) and waits for them once: one wait per
     * window instead of one per block ({@code GpuCopyBenchmark.tierReadBatch} against
     * {@code tierReadEach}).
     */
    @Override
    public synchronized int readAll(BlockKey[] keys, long[] lengths, int[] committed, MemorySegment[] dst,
                                    boolean[] served, int n) {
        int count = 0;
        long largest = 0;
        long total = 0;
        for (int i = 0; i < n; i++) {
            served[i] = false;
            if (keys[i] == null) {
                continue;
            }
            Integer crc = crcs.get(keys[i]);
            var block = tier.block(keys[i]);
            if (crc == null || block.isEmpty() || !block.get().readable()) {
                misses++;
                continue;
            }
            if (crc != committed[i] || block.get().length() != lengths[i]) {
                drop(keys[i]);
                stale++;
                misses++;
                continue;
            }
            served[i] = true;
            count++;
            largest = Math.max(largest, lengths[i]);
            total += lengths[i];
        }
        if (count == 0) {
            return 0;
        }
        if (!batching.batched(count, largest) || !readBatched(keys, lengths, dst, served, n, count, total)) {
            readEach(keys, lengths, dst, served, n);
        }
        hits += count;
        return count;
    }

    /** One copy per block, queued together, one wait. */
    private void readEach(BlockKey[] keys, long[] lengths, MemorySegment[] dst, boolean[] served, int n) {
        CopyCompletion last = null;
        for (int i = 0; i < n; i++) {
            if (served[i]) {
                last = tier.read(keys[i], dst[i].asSlice(0, lengths[i])).orElseThrow();
            }
        }
        // One stream runs the copies in order: the last one done means all are; await settles each block.
        last.await();
        for (int i = 0; i < n; i++) {
            if (served[i]) {
                tier.await(keys[i]);
            }
        }
    }

    /** One batched copy into the registered run, then each block to its place; false (nothing done) when the tier has no room for its scratch. */
    private boolean readBatched(BlockKey[] keys, long[] lengths, MemorySegment[] dst, boolean[] served, int n, int count,
                                long total) {
        List<BlockKey> batch = new ArrayList<>(count);
        for (int i = 0; i < n; i++) {
            if (served[i]) {
                batch.add(keys[i]);
            }
        }
        MemorySegment into = run(total);
        var completion = tier.readBatched(batch, into);
        if (completion.isEmpty()) {
            return false;
        }
        completion.get().await();
        for (BlockKey k : batch) {
            tier.await(k);
        }
        long at = 0;
        for (int i = 0; i < n; i++) {
            if (served[i]) {
                MemorySegment.copy(into, at, dst[i], 0, lengths[i]);
                at += lengths[i];
            }
        }
        batchedBlocks += count;
        return true;
    }

    /**
     * Promotes the blocks with one batched copy when {@link #batching()} says so for them (and
     * the tier has a free range for them and the copy's scratch, after evicting), else one by one.
     */
    @Override
    public synchronized void promoteAll(BlockKey[] keys, MemorySegment[] bytes, int[] crc32cs, int n) {
        long largest = 0;
        long total = 0;
        for (int i = 0; i < n; i++) {
            largest = Math.max(largest, bytes[i].byteSize());
            total += OffsetAllocator.aligned(bytes[i].byteSize());
        }
        if (n > 0 && batching.batched(n, largest) && distinct(keys, n) && promoteBatched(keys, bytes, crc32cs, n, total)) {
            return;
        }
        for (int i = 0; i < n; i++) {
            promote(keys[i], bytes[i], crc32cs[i]);
        }
    }

    private boolean promoteBatched(BlockKey[] keys, MemorySegment[] bytes, int[] crc32cs, int n, long alignedTotal) {
        for (int i = 0; i < n; i++) {
            drop(keys[i]);
        }
        // One free range of twice the blocks holds them and the scratch, wherever the allocator puts them.
        if (!makeRoom(2 * alignedTotal)) {
            return false;
        }
        long[] lengths = new long[n];
        long total = 0;
        for (int i = 0; i < n; i++) {
            lengths[i] = bytes[i].byteSize();
            total += lengths[i];
        }
        MemorySegment from = run(total);
        long at = 0;
        for (int i = 0; i < n; i++) {
            MemorySegment.copy(bytes[i], 0, from, at, lengths[i]);
            at += lengths[i];
        }
        List<BlockKey> batch = Arrays.asList(Arrays.copyOf(keys, n));
        var completion = tier.putBatched(batch, from, lengths);
        if (completion.isEmpty()) {
            return false;
        }
        completion.get().await();
        for (int i = 0; i < n; i++) {
            tier.await(keys[i]);
            if (tier.block(keys[i]).isEmpty()) { // the device failed the copy: nothing held
                continue;
            }
            tier.markCopiedDown(keys[i]);
            held(keys[i], crc32cs[i]);
            promoted++;
        }
        batchedBlocks += n;
        return true;
    }

    private static boolean distinct(BlockKey[] keys, int n) {
        return new java.util.HashSet<>(Arrays.asList(keys).subList(0, n)).size() == n;
    }

    /** The registered host run for batched copies, at least {@code bytes} long. */
    private MemorySegment run(long bytes) {
        if (run == null || run.byteSize() < bytes) {
            freeRun();
            Arena arena = Arena.ofShared();
            try {
                MemorySegment grown = arena.allocate(Math.max(bytes, 1L << 20), 4096);
                runRegistration = tier.memory().register(grown);
                runArena = arena;
                run = grown;
            } finally {
                if (runArena != arena) {
                    arena.close();
                }
            }
        }
        return run.asSlice(0, bytes);
    }

    private void freeRun() {
        try {
            if (runRegistration != null) {
                runRegistration.close();
            }
        } finally {
            runRegistration = null;
            run = null;
            if (runArena != null) {
                runArena.close();
                runArena = null;
            }
        }
    }

    @Override
    public synchronized void promote(BlockKey key, MemorySegment bytes, int crc32c) {
        if (!place(key, bytes, crc32c)) {
            return;
        }
        tier.markCopiedDown(key);
        promoted++;
    }

    @Override
    public synchronized void forget(BlockKey key) {
        if (crcs.containsKey(key)) {
            drop(key);
            stale++;
        }
    }

    /**
     * The blocks that the previous process's GPU tier held when it ended, lost with it (GPU
     * contents do not survive a process); empty without an index.
     */
    public List<BlockKey> lostAtStart() {
        return index == null ? List.of() : index.lost();
    }

    /** Whether a copy of {@code key} is held (readable or not). */
    public synchronized boolean holds(BlockKey key) {
        return tier.block(key).isPresent();
    }

    /** Counts since this cache opened; a snapshot. */
    public synchronized GpuCacheCounters counters() {
        return new GpuCacheCounters(landed, promoted, hits, misses, stale, evicted, full, tier.size(),
                tier.capacityBytes() - tier.freeBytes(), batchedBlocks);
    }

    /** The counts of the tier underneath (copies, batches, failures); a snapshot. */
    public GpuTierCounters tierCounters() {
        return tier.counters();
    }

    /** When this cache copies many small blocks with one batched copy (measured by {@link #open}). */
    public CopyBatching batching() {
        return batching;
    }

    /** The device memory the tier lives in (its kind and description for reports). */
    public DeviceMemory memory() {
        return tier.memory();
    }

    /** Frees the tier's pool and its registrations, then the device memory when {@link #open} opened it. Idempotent. */
    @Override
    public synchronized void close() {
        try {
            try {
                tier.close();
            } finally {
                freeRun();
            }
        } finally {
            try {
                if (index != null) {
                    index.close();
                }
            } finally {
                if (owned != null) {
                    owned.close();
                }
            }
        }
    }

    /**
     * Puts {@code bytes} (whose CRC32C is {@code crc32c}) under {@code key}, replacing a copy held already, after making room.
     *
     * @return false when no room could be made (nothing is held)
     */
    private boolean place(BlockKey key, MemorySegment bytes, int crc32c) {
        drop(key);
        if (!makeRoom(bytes.byteSize())) {
            full++;
            return false;
        }
        tier.put(key, bytes);
        tier.await(key);
        if (tier.block(key).isEmpty()) { // the device failed the copy: nothing held
            return false;
        }
        held(key, crc32c);
        return true;
    }

    /** Evicts in {@link GpuTier#evictable()} order until a range of {@code bytes} fits. */
    private boolean makeRoom(long bytes) {
        if (OffsetAllocator.aligned(bytes) > tier.capacityBytes()) {
            return false;
        }
        while (tier.largestFree() < OffsetAllocator.aligned(bytes)) {
            List<BlockKey> victims = tier.evictable();
            if (victims.isEmpty()) {
                return false;
            }
            BlockKey victim = victims.getFirst();
            if (tier.evict(victim) != GpuTier.Eviction.EVICTED) {
                return false;
            }
            dropped(victim);
            evicted++;
        }
        return true;
    }

    private void drop(BlockKey key) {
        if (tier.evict(key) == GpuTier.Eviction.EVICTED) {
            evicted++;
        }
        dropped(key);
    }

    /** One place for what a block held from now on changes besides the tier: its CRC32C, the index, the changes to report. */
    private void held(BlockKey key, int crc32c) {
        crcs.put(key, crc32c);
        if (index != null) {
            index.held(key);
        }
        if (changes != null) {
            changes.put(key, Boolean.TRUE);
        }
    }

    /** The counterpart of {@link #held} for a block no longer held (or never held: then nothing changes). */
    private void dropped(BlockKey key) {
        if (crcs.remove(key) == null) {
            return;
        }
        if (index != null) {
            index.dropped(key);
        }
        if (changes != null) {
            changes.put(key, Boolean.FALSE);
        }
    }

    /**
     * The blocks held now, all of them: what a full report to the master lists. From the first
     * call on, the changes since are kept for {@link #drainChanges()}.
     */
    public synchronized BlockKey[] heldKeys() {
        if (changes == null) {
            changes = new LinkedHashMap<>();
        }
        changes.clear();
        return crcs.keySet().toArray(BlockKey[]::new);
    }

    /**
     * The blocks that became held and those no longer held since the previous call (or
     * {@link #heldKeys()}), and how many are held now; the last change of a key wins. Nothing
     * is kept before the first call of either: a reporter starts with {@link #heldKeys()}.
     */
    public synchronized HeldChanges drainChanges() {
        if (changes == null) {
            changes = new LinkedHashMap<>();
        }
        List<BlockKey> added = new ArrayList<>();
        List<BlockKey> removed = new ArrayList<>();
        changes.forEach((k, isHeld) -> (isHeld ? added : removed).add(k));
        changes.clear();
        return new HeldChanges(added.toArray(BlockKey[]::new), removed.toArray(BlockKey[]::new), crcs.size());
    }

    /**
     * What {@link #drainChanges()} returns.
     *
     * @param added   blocks held from now on
     * @param dropped blocks no longer held
     * @param held    blocks held now, all together
     */
    public record HeldChanges(BlockKey[] added, BlockKey[] dropped, int held) {
        /** Whether nothing changed. */
        public boolean isEmpty() {
            return added.length == 0 && dropped.length == 0;
        }
    }
}
