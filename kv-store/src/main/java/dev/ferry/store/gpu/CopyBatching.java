package dev.ferry.store.gpu;

import dev.ferry.nativemem.device.HostRegistration;
import dev.ferry.store.alloc.OffsetAllocator;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

/**
 * When the GPU tier copies many small blocks with one batched copy ({@link GpuTier#readBatched},
 * {@link GpuTier#putBatched}) rather than one copy per block: per block size class
 * ({@link #SIZES}, a block falls in the smallest class that holds it), the fewest blocks from
 * which the batched copy was faster, or never. Larger blocks than the largest class are always
 * copied one by one (each is a long transfer already).
 *
 * <p>{@link #measure} chooses it on the tier's own device, before the tier holds anything: for
 * each class it times reads of {@link #COUNTS} blocks one by one (queued together, one wait)
 * against one batched read, and keeps the faster. On CUDA a per-block copy costs a driver call
 * and an event each, a batched one a copy within the device per block and one transfer; on host
 * memory standing in for a GPU the batched copy is two memory copies per block instead of one,
 * and is seldom chosen. Immutable.
 *
 * @param minBlocks per class of {@link #SIZES}: the fewest blocks copied batched, or
 *                  {@link Integer#MAX_VALUE} for never
 */
public record CopyBatching(int[] minBlocks) {
    /** The block size classes measured, bytes. */
    public static final long[] SIZES = {16 << 10, 64 << 10, 256 << 10};
    /** The numbers of blocks measured per class. */
    public static final int[] COUNTS = {4, 16};
    /** Never batched: every block is copied on its own. */
    public static final CopyBatching NEVER = new CopyBatching(new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE,
            Integer.MAX_VALUE});
    private static final int ROUNDS = 8;

    /** @throws IllegalArgumentException when there is not one entry per class */
    public CopyBatching {
        if (minBlocks.length != SIZES.length) {
            throw new IllegalArgumentException(minBlocks.length + " classes, expected " + SIZES.length);
        }
        minBlocks = minBlocks.clone();
    }

    /** Batched from {@code minBlocks} blocks in every class. */
    public static CopyBatching always(int minBlocks) {
        int[] min = new int[SIZES.length];
        Arrays.fill(min, minBlocks);
        return new CopyBatching(min);
    }

    /**
     * Whether {@code blocks} blocks, the largest of {@code largestBytes}, are copied batched.
     */
    public boolean batched(int blocks, long largestBytes) {
        for (int c = 0; c < SIZES.length; c++) {
            if (largestBytes <= SIZES[c]) {
                return blocks >= Math.max(2, minBlocks[c]);
            }
        }
        return false;
    }

    @Override
    public int[] minBlocks() {
        return minBlocks.clone();
    }

    /** E.g. {@code "batched from 4 blocks up to 16 KiB, from 16 up to 64 KiB, never above"}. */
    public String describe() {
        List<String> parts = new ArrayList<>();
        for (int c = 0; c < SIZES.length; c++) {
            parts.add((minBlocks[c] == Integer.MAX_VALUE ? "never" : "from " + minBlocks[c] + " blocks")
                    + " up to " + (SIZES[c] >> 10) + " KiB");
        }
        return "batched copies: " + String.join(", ", parts) + ", never above";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CopyBatching other && Arrays.equals(minBlocks, other.minBlocks);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(minBlocks);
    }

    @Override
    public String toString() {
        return describe();
    }

    /**
     * Measures per-block against batched reads on {@code tier}, which must hold nothing yet (its
     * pool is used for the blocks and the scratch and left empty again). A class whose blocks and
     * scratch do not fit in the pool is never batched. The host side is a buffer registered with
     * the device for the measurement, as the store client's staging buffers are.
     *
     * @param key the keys to measure with, by index from 0 (evicted afterwards)
     * @throws IllegalStateException when the tier holds blocks
     * @throws dev.ferry.nativemem.device.DeviceException when the device fails a copy
     */
    public static <K> CopyBatching measure(GpuTier<K> tier, IntFunction<K> key) {
        if (tier.size() != 0) {
            throw new IllegalStateException("the GPU tier holds " + tier.size() + " blocks: measure it empty");
        }
        int most = COUNTS[COUNTS.length - 1];
        int[] min = new int[SIZES.length];
        Arrays.fill(min, Integer.MAX_VALUE);
        try (Arena arena = Arena.ofShared()) {
            for (int c = 0; c < SIZES.length; c++) {
                long size = SIZES[c];
                if (2 * most * OffsetAllocator.aligned(size) > tier.capacityBytes()) {
                    break;
                }
                MemorySegment host = arena.allocate(most * size, 4096);
                List<K> keys = new ArrayList<>();
                try (HostRegistration registered = tier.memory().register(host)) {
                    for (int i = 0; i < most; i++) {
                        keys.add(key.apply(i));
                        tier.put(keys.get(i), host.asSlice(i * size, size)).await();
                        tier.await(keys.get(i));
                    }
                    for (int count : COUNTS) {
                        List<K> some = keys.subList(0, count);
                        MemorySegment run = host.asSlice(0, count * size);
                        long each = Long.MAX_VALUE;
                        long batched = Long.MAX_VALUE;
                        for (int r = 0; r < ROUNDS; r++) {
                            each = Math.min(each, timeEach(tier, some, run, size));
                            batched = Math.min(batched, timeBatched(tier, some, run));
                        }
                        if (batched < each) {
                            min[c] = count;
                            break;
                        }
                    }
                } finally {
                    for (K k : keys) {
                        tier.await(k);
                        tier.evict(k);
                    }
                }
            }
        }
        return new CopyBatching(min);
    }

    private static <K> long timeEach(GpuTier<K> tier, List<K> keys, MemorySegment run, long size) {
        long start = System.nanoTime();
        dev.ferry.nativemem.device.CopyCompletion last = null;
        for (int i = 0; i < keys.size(); i++) {
            last = tier.read(keys.get(i), run.asSlice(i * size, size)).orElseThrow();
        }
        last.await();
        long nanos = System.nanoTime() - start;
        tier.await(keys.getLast());
        return nanos;
    }

    private static <K> long timeBatched(GpuTier<K> tier, List<K> keys, MemorySegment run) {
        long start = System.nanoTime();
        var completion = tier.readBatched(keys, run);
        if (completion.isEmpty()) {
            return Long.MAX_VALUE;
        }
        completion.get().await();
        long nanos = System.nanoTime() - start;
        tier.await(keys.getLast());
        return nanos;
    }

}
