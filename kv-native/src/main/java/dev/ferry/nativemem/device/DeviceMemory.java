package dev.ferry.nativemem.device;

import java.lang.foreign.MemorySegment;

/**
 * The memory of one device and the copies between it and the host: pools of device memory
 * ({@link #allocate}), ordered queues of asynchronous copies ({@link #openStream()}), and
 * page-locking of host ranges for DMA ({@link #register}). A pool is a raw range; its user
 * carves it (the GPU tier does so with the store's offset allocator).
 *
 * <p>Two implementations: {@link CudaDeviceMemory} (GPU memory through JCuda) and
 * {@link HostDeviceMemory} (off-heap host memory standing in for a GPU, so that the same tier
 * logic runs on machines without CUDA). {@link DeviceMemories} picks one.
 *
 * <p>Ownership: the device memory owns what it hands out; {@link #close()} closes every pool,
 * stream and registration still open, in reverse order of opening. Any use afterwards throws
 * {@link IllegalStateException}. Thread-safety: every method may be called from any thread.
 */
public interface DeviceMemory extends AutoCloseable {
    /** Which memory this is. */
    DeviceKind kind();

    /** One line for logs and reports: the device's name and size, e.g. {@code "CUDA device 0: NVIDIA H100 80GB HBM3, 79.1 GiB"}. */
    String describe();

    /**
     * Bytes the device has free for new pools now.
     *
     * @throws IllegalStateException when closed
     */
    long freeBytes();

    /**
     * Allocates a pool of {@code bytes} of device memory (contents undefined on CUDA, zero on host).
     *
     * @param bytes size in bytes, at least 1
     * @throws IllegalArgumentException when {@code bytes < 1}
     * @throws DeviceOutOfMemoryException when the device cannot hold it
     * @throws IllegalStateException when closed
     */
    DevicePool allocate(long bytes);

    /**
     * Opens a new stream for asynchronous copies.
     *
     * @throws IllegalStateException when closed
     */
    DeviceStream openStream();

    /**
     * Page-locks a host range for DMA to and from this device ({@code cuMemHostRegister}).
     * The range must stay allocated until the registration is closed.
     *
     * @param range native memory, e.g. a DRAM slab's whole segment
     * @throws IllegalArgumentException when {@code range} is not native memory or is empty
     * @throws DeviceException when the driver refuses (e.g. the range is registered already)
     * @throws IllegalStateException when closed
     */
    HostRegistration register(MemorySegment range);

    /** Closes every pool, stream and registration still open, then releases the device. Idempotent. */
    @Override
    void close();
}
