package dev.ferry.nativemem.device;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A contiguous range of device memory, {@link #bytes()} long, addressed by offsets from 0,
 * and the copies into it, out of it and within the device. Its user carves it into blocks.
 *
 * <p>Every copy is checked here, in one place, before it reaches the device: the device range
 * must lie inside the pool ({@link IndexOutOfBoundsException} otherwise), the host side must be
 * native memory, the stream must belong to the same device memory, and the pool must be open
 * ({@link IllegalStateException} otherwise). A copy without a stream is synchronous; one on a
 * stream is queued behind the stream's earlier copies and returns its {@link CopyCompletion}.
 * Host memory of an asynchronous copy must stay valid and unchanged until its completion.
 *
 * <p>Thread-safety: copies may be issued from any thread; copies to overlapping ranges are
 * ordered only within one stream. Close the pool once, after its copies are awaited.
 */
public abstract class DevicePool implements AutoCloseable {
    private final DeviceMemory memory;
    private final long bytes;
    private volatile boolean closed;

    /** @param memory the device memory that allocated it; @param bytes its size */
    protected DevicePool(DeviceMemory memory, long bytes) {
        this.memory = memory;
        this.bytes = bytes;
    }

    /** Size in bytes. */
    public final long bytes() {
        return bytes;
    }

    /** The device memory this pool lives in. */
    public final DeviceMemory memory() {
        return memory;
    }

    /**
     * Copies all of {@code src} (host) to the pool at {@code offset}, synchronously.
     *
     * @throws IndexOutOfBoundsException when {@code [offset, offset + src.byteSize())} leaves the pool
     */
    public final void copyIn(long offset, MemorySegment src) {
        checkDevice(offset, requireHost(src).byteSize());
        hostToDevice(offset, src, null);
    }

    /** Queues a copy of all of {@code src} (host) to the pool at {@code offset} on {@code stream}. */
    public final CopyCompletion copyInAsync(long offset, MemorySegment src, DeviceStream stream) {
        checkDevice(offset, requireHost(src).byteSize());
        return hostToDevice(offset, src, requireStream(stream));
    }

    /**
     * Copies {@code dst.byteSize()} bytes from the pool at {@code offset} to {@code dst} (host), synchronously.
     *
     * @throws IndexOutOfBoundsException when the device range leaves the pool
     */
    public final void copyOut(long offset, MemorySegment dst) {
        checkDevice(offset, requireHost(dst).byteSize());
        deviceToHost(offset, dst, null);
    }

    /** Queues a copy of {@code dst.byteSize()} bytes from the pool at {@code offset} to {@code dst} (host) on {@code stream}. */
    public final CopyCompletion copyOutAsync(long offset, MemorySegment dst, DeviceStream stream) {
        checkDevice(offset, requireHost(dst).byteSize());
        return deviceToHost(offset, dst, requireStream(stream));
    }

    /**
     * Copies {@code length} bytes from this pool at {@code offset} to {@code target} at
     * {@code targetOffset}, on the device, synchronously. Overlapping ranges of one pool are an error of the caller.
     *
     * @throws IllegalArgumentException when {@code target} belongs to another device memory
     */
    public final void copyTo(long offset, DevicePool target, long targetOffset, long length) {
        checkDeviceToDevice(offset, target, targetOffset, length);
        deviceToDevice(offset, target, targetOffset, length, null);
    }

    /** Queues a device-to-device copy on {@code stream}; see {@link #copyTo}. */
    public final CopyCompletion copyToAsync(long offset, DevicePool target, long targetOffset, long length,
                                            DeviceStream stream) {
        checkDeviceToDevice(offset, target, targetOffset, length);
        return deviceToDevice(offset, target, targetOffset, length, requireStream(stream));
    }

    /**
     * Queues copies of many blocks of the pool, {@code offsets[i]} and {@code lengths[i]} each,
     * to {@code dst} (host) one after another in that order, on one stream, with one completion
     * for them all (a gather). Every range is checked before any copy is queued.
     *
     * @throws IllegalArgumentException when the arrays differ in length or {@code dst} is not
     *                                  exactly the sum of the lengths
     */
    public final CopyCompletion gatherOutAsync(long[] offsets, long[] lengths, MemorySegment dst, DeviceStream stream) {
        long total = checkBlocks(offsets, lengths, requireHost(dst));
        requireStream(stream);
        CopyCompletion last = CopyCompletion.DONE;
        long at = 0;
        for (int i = 0; i < offsets.length; i++) {
            last = deviceToHost(offsets[i], dst.asSlice(at, lengths[i]), stream);
            at += lengths[i];
        }
        assert at == total;
        return last;
    }

    /**
     * Queues copies of consecutive parts of {@code src} (host), {@code lengths[i]} bytes each,
     * into the pool at {@code offsets[i]}, on one stream, with one completion (a scatter).
     *
     * @throws IllegalArgumentException as {@link #gatherOutAsync}
     */
    public final CopyCompletion scatterInAsync(MemorySegment src, long[] offsets, long[] lengths, DeviceStream stream) {
        checkBlocks(offsets, lengths, requireHost(src));
        requireStream(stream);
        CopyCompletion last = CopyCompletion.DONE;
        long at = 0;
        for (int i = 0; i < offsets.length; i++) {
            last = hostToDevice(offsets[i], src.asSlice(at, lengths[i]), stream);
            at += lengths[i];
        }
        return last;
    }

    /**
     * The batched form of {@link #gatherOutAsync}, for many small blocks: copies the blocks
     * within the device into this pool's contiguous scratch range at {@code scratchOffset}
     * (device-to-device copies, which never cross the bus), then copies that range to
     * {@code dst} with one device-to-host copy: one transfer over the bus instead of one per
     * block. The scratch range, {@code sum(lengths)} bytes, must not overlap any block and must
     * stay unused until the completion. Every range is checked before any copy is queued.
     *
     * @throws IllegalArgumentException as {@link #gatherOutAsync}, when there is no block, or
     *                                  when the scratch range overlaps a block
     * @throws IndexOutOfBoundsException when a block or the scratch range leaves the pool
     */
    public final CopyCompletion gatherOutBatchedAsync(long[] offsets, long[] lengths, MemorySegment dst,
                                                      long scratchOffset, DeviceStream stream) {
        long total = checkBlocks(offsets, lengths, requireHost(dst));
        checkScratch(offsets, lengths, scratchOffset, total);
        requireStream(stream);
        List<CopyCompletion> steps = new ArrayList<>();
        long at = scratchOffset;
        for (int i = 0; i < offsets.length; i++) {
            add(steps, queueDeviceToDevice(offsets[i], at, lengths[i], stream));
            at += lengths[i];
        }
        steps.add(deviceToHost(scratchOffset, dst, stream));
        return AllOf.of(steps);
    }

    /**
     * The batched form of {@link #scatterInAsync}, for many small blocks: copies all of
     * {@code src} (host) into this pool's scratch range at {@code scratchOffset} with one
     * host-to-device copy, then scatters its consecutive parts, {@code lengths[i]} bytes each,
     * to {@code offsets[i]} within the device. The scratch range is as in
     * {@link #gatherOutBatchedAsync}.
     *
     * @throws IllegalArgumentException as {@link #gatherOutBatchedAsync}
     */
    public final CopyCompletion scatterInBatchedAsync(MemorySegment src, long[] offsets, long[] lengths,
                                                      long scratchOffset, DeviceStream stream) {
        long total = checkBlocks(offsets, lengths, requireHost(src));
        checkScratch(offsets, lengths, scratchOffset, total);
        requireStream(stream);
        List<CopyCompletion> steps = new ArrayList<>();
        steps.add(hostToDevice(scratchOffset, src, stream));
        long at = scratchOffset;
        for (int i = 0; i < offsets.length - 1; i++) {
            add(steps, queueDeviceToDevice(at, offsets[i], lengths[i], stream));
            at += lengths[i];
        }
        int last = offsets.length - 1;
        steps.add(deviceToDevice(at, this, offsets[last], lengths[last], stream));
        return AllOf.of(steps);
    }

    /** Whether {@link #close()} was called (or the device memory was closed). */
    public final boolean isClosed() {
        return closed;
    }

    /** Frees the device memory. Idempotent. */
    @Override
    public final void close() {
        if (closed) {
            return;
        }
        closed = true;
        free();
    }

    /** Host to device: {@code stream} null means synchronous (return {@link CopyCompletion#DONE}). Arguments are checked. */
    protected abstract CopyCompletion hostToDevice(long offset, MemorySegment src, DeviceStream stream);

    /** Device to host: {@code stream} null means synchronous. Arguments are checked. */
    protected abstract CopyCompletion deviceToHost(long offset, MemorySegment dst, DeviceStream stream);

    /** Device to device: {@code stream} null means synchronous. Arguments are checked; target is of the same implementation. */
    protected abstract CopyCompletion deviceToDevice(long offset, DevicePool target, long targetOffset, long length,
                                                     DeviceStream stream);

    /**
     * Queues a copy within this pool on {@code stream}: a step of a batched copy, whose
     * completion waits for every step's. By default {@link #deviceToDevice}; an implementation
     * whose completions cost a driver call each, and whose later completions report an earlier
     * copy's failure anyway (CUDA: a failed asynchronous copy's error is sticky), overrides it to
     * return null (no completion of its own). Arguments are checked.
     */
    protected CopyCompletion queueDeviceToDevice(long offset, long targetOffset, long length, DeviceStream stream) {
        return deviceToDevice(offset, this, targetOffset, length, stream);
    }

    private static void add(List<CopyCompletion> steps, CopyCompletion step) {
        if (step != null) {
            steps.add(step);
        }
    }

    /** The completion of all the steps of a batched copy: done when all are, failed when one failed. */
    private record AllOf(List<CopyCompletion> steps) implements CopyCompletion {
        static CopyCompletion of(List<CopyCompletion> steps) {
            return steps.size() == 1 ? steps.getFirst() : new AllOf(List.copyOf(steps));
        }

        @Override
        public boolean isDone() {
            for (CopyCompletion c : steps) {
                if (!c.isDone()) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public void await() {
            DeviceException first = null;
            for (CopyCompletion c : steps) {
                try {
                    c.await();
                } catch (DeviceException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            }
            if (first != null) {
                throw first;
            }
        }
    }

    /** Frees the memory; called once. */
    protected abstract void free();

    private void checkDevice(long offset, long length) {
        requireOpen();
        if (offset < 0 || length < 0 || offset > bytes - length) {
            throw new IndexOutOfBoundsException("device range [" + offset + ", " + (offset + length)
                    + ") leaves the pool of " + bytes + " bytes");
        }
    }

    private void checkDeviceToDevice(long offset, DevicePool target, long targetOffset, long length) {
        Objects.requireNonNull(target, "target");
        if (target.memory != memory) {
            throw new IllegalArgumentException("target pool belongs to another device memory");
        }
        checkDevice(offset, length);
        target.checkDevice(targetOffset, length);
    }

    private long checkBlocks(long[] offsets, long[] lengths, MemorySegment host) {
        if (offsets.length != lengths.length) {
            throw new IllegalArgumentException(offsets.length + " offsets but " + lengths.length + " lengths");
        }
        long total = 0;
        for (int i = 0; i < offsets.length; i++) {
            checkDevice(offsets[i], lengths[i]);
            total += lengths[i];
        }
        if (total != host.byteSize()) {
            throw new IllegalArgumentException("blocks hold " + total + " bytes, host range " + host.byteSize());
        }
        return total;
    }

    private void checkScratch(long[] offsets, long[] lengths, long scratchOffset, long total) {
        if (offsets.length == 0) {
            throw new IllegalArgumentException("a batched copy needs at least one block");
        }
        checkDevice(scratchOffset, total);
        for (int i = 0; i < offsets.length; i++) {
            if (offsets[i] < scratchOffset + total && scratchOffset < offsets[i] + lengths[i]) {
                throw new IllegalArgumentException("scratch range [" + scratchOffset + ", " + (scratchOffset + total)
                        + ") overlaps block [" + offsets[i] + ", " + (offsets[i] + lengths[i]) + ")");
            }
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("device pool of " + bytes + " bytes is closed");
        }
    }

    private static MemorySegment requireHost(MemorySegment host) {
        Objects.requireNonNull(host, "host range");
        if (!host.isNative()) {
            throw new IllegalArgumentException("host range must be native (off-heap) memory, was " + host);
        }
        return host;
    }

    private DeviceStream requireStream(DeviceStream stream) {
        Objects.requireNonNull(stream, "stream");
        return stream;
    }
}
