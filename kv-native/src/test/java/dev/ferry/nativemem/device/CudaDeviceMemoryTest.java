package dev.ferry.nativemem.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.nativemem.MachineInfo;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link CudaDeviceMemory} keeps the device memory contract on a real GPU; skipped where CUDA is absent. */
@Tag("gpu")
class CudaDeviceMemoryTest extends DeviceMemoryContract {
    @Override
    DeviceMemory open() {
        assumeTrue(MachineInfo.probe().cudaDriver(), "no CUDA driver on this machine");
        try {
            return CudaDeviceMemory.open(0);
        } catch (DeviceUnavailableException e) {
            assumeTrue(false, e.getMessage());
            throw e;
        }
    }

    @Test
    void namesTheDevice() {
        assertThat(memory.kind()).isEqualTo(DeviceKind.CUDA);
        assertThat(memory.describe()).startsWith("CUDA device 0: ");
        assertThat(memory.freeBytes()).isPositive();
    }

    @Test
    void copiesAFourMebibyteBlockBothWaysFromRegisteredMemory() {
        long size = 4L << 20;
        MemorySegment slab = arena.allocate(2 * size, 4096);
        slab.asSlice(0, size).copyFrom(pattern(size, 13));
        try (HostRegistration registration = memory.register(slab); DevicePool pool = memory.allocate(size);
             DeviceStream stream = memory.openStream()) {
            assertThat(registration.pageLocked()).isTrue();
            pool.copyInAsync(0, slab.asSlice(0, size), stream);
            pool.copyOutAsync(0, slab.asSlice(size, size), stream).await();
            assertThat(slab.asSlice(size, size).mismatch(slab.asSlice(0, size))).isEqualTo(-1);
        }
    }
}
