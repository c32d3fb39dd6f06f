package dev.ferry.store.gpu;

import dev.ferry.store.block.BlockKey;
import java.lang.foreign.MemorySegment;

/**
 * A tier that lives with the engine, in front of the store: the GPU memory of the inference
 * engine a prefill or decode node sits next to ({@link GpuBlockCache}).
 * The store client ({@link dev.ferry.store.client.StoreClient}) calls it on its own paths: a put lands each new block here first and
 * writes the bytes copied back down to DRAM; a get serves a block from here when the copy
 * here has the committed length and CRC32C of the lease the get holds (no transfer), and
 * offers every block it read from the store for promotion.
 *
 * <p>The master learns which copies are held here only as a locality map (a reported tier,
 * {@code dev.ferry.store.client.ReportedGpuTier}); correctness rests on validation: a copy is
 * served only while the master still has the block committed with the same CRC32C (a removed
 * key is a miss, and its copy here is dropped), so a stale copy is never served.
 *
 * <p>No method fails a put or a get for want of room: a full tier keeps nothing. Implementations
 * are thread-safe and own their memory: close them after the store client.
 */
public interface EngineTier extends AutoCloseable {
    /**
     * Registers a staging range of the store client (a DRAM slab) for DMA with the device, until
     * this tier closes: the copies down and the promotions go through it.
     */
    void registerStaging(MemorySegment staging);

    /**
     * A new block, just produced in {@code block} (the put's staging range) with CRC32C
     * {@code crc32c} (which the put commits): lands it in this tier, then copies it back down
     * into {@code block}, which the put writes to DRAM. When the tier has no room, {@code block}
     * is left as it is.
     */
    void land(BlockKey key, MemorySegment block, int crc32c);

    /**
     * Copies the block into {@code dst} when this tier holds a copy of {@code length} bytes whose
     * CRC32C is {@code crc32c} (the committed one); a copy that differs is dropped.
     *
     * @param dst host memory of at least {@code length} bytes
     * @return whether the block was served from here
     */
    boolean read(BlockKey key, long length, int crc32c, MemorySegment dst);

    /**
     * {@link #read} of {@code n} blocks at once: block {@code keys[i]}, committed with
     * {@code lengths[i]} and {@code crcs[i]}, into {@code dst[i]}; {@code served[i]} says whether
     * it was; a null key is skipped (not served). Implementations may queue the copies together
     * and wait once.
     *
     * @return how many were served
     */
    default int readAll(BlockKey[] keys, long[] lengths, int[] crcs, MemorySegment[] dst, boolean[] served, int n) {
        int count = 0;
        for (int i = 0; i < n; i++) {
            served[i] = keys[i] != null && read(keys[i], lengths[i], crcs[i], dst[i]);
            count += served[i] ? 1 : 0;
        }
        return count;
    }

    /** A block read from the store (whole, checked against {@code crc32c}): promotes it into this tier when it has room. */
    void promote(BlockKey key, MemorySegment bytes, int crc32c);

    /**
     * {@link #promote} of {@code n} blocks at once: {@code keys[i]} with {@code bytes[i]} and
     * {@code crc32cs[i]}. Implementations may copy them with one batched copy.
     */
    default void promoteAll(BlockKey[] keys, MemorySegment[] bytes, int[] crc32cs, int n) {
        for (int i = 0; i < n; i++) {
            promote(keys[i], bytes[i], crc32cs[i]);
        }
    }

    /**
     * A locality hint, after a get: how many of {@code keys} (blocks this engine just read from
     * the store) another engine holds in its GPU tier, as the master knows it. Never fails a get:
     * 0 when unknown. By default 0 (a tier that does not report to the master).
     */
    default int heldInOtherGpuTiers(BlockKey[] keys) {
        return 0;
    }

    /** The store does not hold {@code key} (any more): drops a copy held here. */
    void forget(BlockKey key);

    /** Frees the tier's memory. */
    @Override
    void close();
}
