package dev.ferry.store.tier;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.EvictionPolicy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The in-memory bookkeeping of an {@link SsdTier}: which blocks it holds, their metadata,
 * the bytes in use against the capacity, the eviction policy, and who is using each block.
 * It decides; the tier does the I/O between a {@code begin} and its {@code commit} or
 * {@code abort}.
 *
 * <p>Each block is READY (readable), WRITING (a put is storing it: invisible to gets) or
 * REMOVING (a removal, eviction or drop is deleting it: invisible, its bytes no longer
 * counted). Rules that keep RocksDB and the index in step: at most one write or delete per
 * key is in flight; a put or removal of a key waits for the reads of it to finish; only
 * READY blocks that nobody reads are eviction victims.
 *
 * <p>Thread-safe: one monitor, held only for bookkeeping, never during I/O.
 */
final class TierIndex {
    enum State { WRITING, READY, REMOVING }

    /** One block; fields guarded by the index's monitor. */
    static final class Entry {
        final BlockKey key;
        long length;
        int crc32c;
        long lastAccessMicros;
        State state;
        int readers;
        boolean accessDirty;

        Entry(BlockKey key) {
            this.key = key;
        }

        StoredBlock snapshot() {
            return new StoredBlock(key, length, crc32c, lastAccessMicros);
        }
    }

    /**
     * What a put must do: write {@code entry} (now WRITING) and delete {@code victims} (now
     * REMOVING) in one batch, or nothing at all when the same block is stored already.
     *
     * @param replaced the block's previous metadata when the put overwrites it, else null
     */
    record PutPlan(Entry entry, List<StoredBlock> victims, StoredBlock replaced, boolean alreadyStored) {
        static final PutPlan ALREADY_STORED = new PutPlan(null, List.of(), null, true);
    }

    private final Map<BlockKey, Entry> entries = new HashMap<>();
    private final EvictionPolicy policy;
    private final long capacityBytes;
    private long usedBytes;
    private int ready;
    private long lastStamp;

    TierIndex(EvictionPolicy policy, long capacityBytes) {
        this.policy = policy;
        this.capacityBytes = capacityBytes;
    }

    /** Adds a block found on disk at open; blocks must come oldest access first. */
    synchronized void load(StoredBlock block) {
        Entry e = new Entry(block.key());
        e.length = block.length();
        e.crc32c = block.crc32c();
        e.lastAccessMicros = block.lastAccessMicros();
        e.state = State.READY;
        entries.put(block.key(), e);
        policy.onInsert(block.key());
        usedBytes += block.length();
        ready++;
        lastStamp = Math.max(lastStamp, block.lastAccessMicros());
    }

    /**
     * After {@link #load}ing more than the capacity (a tier reopened smaller): the blocks the
     * policy gives up, now REMOVING, to delete and then {@link #removed}.
     */
    synchronized List<StoredBlock> overCapacity() {
        List<StoredBlock> victims = new ArrayList<>();
        while (usedBytes > capacityBytes) {
            BlockKey key = policy.victim(this::evictable);
            if (key == EvictionPolicy.NONE) {
                break;
            }
            victims.add(startRemoval(entries.get(key)));
        }
        return victims;
    }

    /**
     * Plans the put of a block: waits while the key is being written or removed, or while
     * reads of it run if its content changes; then reserves its bytes, evicting READY blocks
     * nobody reads, in the policy's order, until it fits.
     *
     * @throws TierException when not enough bytes can be evicted now (every other block is
     *                       being read or written); nothing is changed then
     * @throws InterruptedException when interrupted while waiting
     */
    synchronized PutPlan beginPut(BlockKey key, long length, int crc32c) throws InterruptedException {
        Entry e = entries.get(key);
        while (e != null && (e.state != State.READY || e.readers > 0)) {
            if (e.state == State.READY && e.length == length && e.crc32c == crc32c) {
                break;
            }
            wait();
            e = entries.get(key);
        }
        if (e != null && e.length == length && e.crc32c == crc32c) {
            touch(e);
            return PutPlan.ALREADY_STORED;
        }
        long freed = e == null ? 0 : e.length;
        List<StoredBlock> victims = List.of();
        while (usedBytes - freed + length > capacityBytes) {
            BlockKey victim = policy.victim(k -> !k.equals(key) && evictable(k));
            if (victim == EvictionPolicy.NONE) {
                long missing = usedBytes - freed + length - capacityBytes;
                victims.forEach(this::restore);
                throw new TierException("no room for block key " + key + " of " + length + " bytes: " + missing
                        + " bytes more are held by blocks being read or written (capacity " + capacityBytes + " bytes)");
            }
            if (victims.isEmpty()) {
                victims = new ArrayList<>();
            }
            victims.add(startRemoval(entries.get(victim)));
        }
        StoredBlock replaced = null;
        if (e == null) {
            e = new Entry(key);
            entries.put(key, e);
        } else {
            replaced = e.snapshot();
            policy.onRemove(key);
            usedBytes -= e.length;
            ready--;
        }
        e.length = length;
        e.crc32c = crc32c;
        e.lastAccessMicros = nextStamp();
        e.accessDirty = false;
        e.state = State.WRITING;
        usedBytes += length;
        return new PutPlan(e, victims, replaced, false);
    }

    /** The put's batch is written: the block is READY and its victims are gone. */
    synchronized void commitPut(PutPlan plan) {
        plan.entry().state = State.READY;
        ready++;
        policy.onInsert(plan.entry().key);
        plan.victims().forEach(v -> entries.remove(v.key()));
        notifyAll();
    }

    /** The put's batch failed: the victims and any replaced block are back as they were. */
    synchronized void abortPut(PutPlan plan) {
        Entry e = plan.entry();
        usedBytes -= e.length;
        StoredBlock old = plan.replaced();
        if (old == null) {
            entries.remove(e.key);
        } else {
            e.length = old.length();
            e.crc32c = old.crc32c();
            e.lastAccessMicros = old.lastAccessMicros();
            e.state = State.READY;
            usedBytes += old.length();
            ready++;
            policy.onInsert(e.key);
        }
        plan.victims().forEach(this::restore);
        notifyAll();
    }

    /**
     * Starts a read: the block must be READY and fit {@code dstBytes}; it counts as read
     * (not evictable) until {@link #endRead}, and as accessed now.
     *
     * @throws UnknownBlockException when the block is not READY
     * @throws IllegalArgumentException when it is longer than {@code dstBytes}
     */
    synchronized Entry beginRead(BlockKey key, long dstBytes) {
        Entry e = entries.get(key);
        if (e == null || e.state != State.READY) {
            throw new UnknownBlockException(key);
        }
        if (e.length > dstBytes) {
            throw new IllegalArgumentException("destination of " + dstBytes + " bytes cannot hold block key " + key
                    + " of " + e.length + " bytes");
        }
        e.readers++;
        touch(e);
        return e;
    }

    synchronized void endRead(Entry e) {
        if (--e.readers == 0) {
            notifyAll();
        }
    }

    /**
     * A read found {@code e} corrupt: unless another thread got there first, it becomes
     * REMOVING and the caller deletes it, then calls {@link #removed}.
     *
     * @return whether this caller is to delete it
     */
    synchronized boolean beginDrop(Entry e) {
        if (entries.get(e.key) != e || e.state != State.READY) {
            return false;
        }
        startRemoval(e);
        return true;
    }

    /**
     * Starts an explicit removal: waits until the key is neither written nor read, then
     * marks it REMOVING.
     *
     * @return the block to delete, or null when the key is not (or no longer) in the tier
     */
    synchronized StoredBlock beginRemove(BlockKey key) throws InterruptedException {
        Entry e = entries.get(key);
        while (e != null && (e.state == State.WRITING || e.readers > 0)) {
            wait();
            e = entries.get(key);
        }
        if (e == null || e.state == State.REMOVING) {
            return null;
        }
        return startRemoval(e);
    }

    /** The deletion of a REMOVING block is written. */
    synchronized void removed(BlockKey key) {
        Entry e = entries.get(key);
        if (e != null && e.state == State.REMOVING) {
            entries.remove(key);
        }
        notifyAll();
    }

    /** The deletion of a REMOVING block failed: it is READY again. */
    synchronized void abortRemove(StoredBlock block) {
        restore(block);
        notifyAll();
    }

    synchronized boolean contains(BlockKey key) {
        Entry e = entries.get(key);
        return e != null && e.state == State.READY;
    }

    /** Bytes of READY blocks and of puts in flight. */
    synchronized long usedBytes() {
        return usedBytes;
    }

    synchronized int blocks() {
        return ready;
    }

    /** The READY blocks, oldest access first. */
    synchronized List<StoredBlock> snapshot() {
        List<StoredBlock> out = new ArrayList<>(ready);
        for (Entry e : entries.values()) {
            if (e.state == State.READY) {
                out.add(e.snapshot());
            }
        }
        out.sort(Comparator.comparingLong(StoredBlock::lastAccessMicros));
        return out;
    }

    /** READY blocks read since they were written, whose access time is not on disk yet; clears the marks. */
    synchronized List<StoredBlock> takeDirtyAccesses() {
        List<StoredBlock> out = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.accessDirty && e.state == State.READY) {
                out.add(e.snapshot());
                e.accessDirty = false;
            }
        }
        return out;
    }

    private boolean evictable(BlockKey key) {
        Entry e = entries.get(key);
        return e != null && e.state == State.READY && e.readers == 0;
    }

    private StoredBlock startRemoval(Entry e) {
        e.state = State.REMOVING;
        usedBytes -= e.length;
        ready--;
        policy.onRemove(e.key);
        return e.snapshot();
    }

    private void restore(StoredBlock block) {
        Entry e = entries.get(block.key());
        if (e != null && e.state == State.REMOVING) {
            e.state = State.READY;
            usedBytes += e.length;
            ready++;
            policy.onInsert(e.key);
        }
    }

    private void touch(Entry e) {
        e.lastAccessMicros = nextStamp();
        e.accessDirty = true;
        policy.onAccess(e.key);
    }

    private long nextStamp() {
        lastStamp = Math.max(System.currentTimeMillis() * 1000, lastStamp + 1);
        return lastStamp;
    }
}
