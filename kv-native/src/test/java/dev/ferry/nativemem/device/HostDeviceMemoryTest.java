package dev.ferry.nativemem.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** {@link HostDeviceMemory} keeps the device memory contract on any machine. */
class HostDeviceMemoryTest extends DeviceMemoryContract {
    @Override
    DeviceMemory open() {
        return new HostDeviceMemory(1024 * KIB);
    }

    @Test
    void countsItsCapacityAndGivesItBackOnClose() {
        DevicePool a = memory.allocate(768 * KIB);
        assertThat(memory.freeBytes()).isEqualTo(256 * KIB);
        assertThatThrownBy(() -> memory.allocate(512 * KIB)).isInstanceOf(DeviceOutOfMemoryException.class)
                .hasMessageContaining("262144 of 1048576 bytes free");
        a.close();
        assertThat(memory.freeBytes()).isEqualTo(1024 * KIB);
        memory.allocate(1024 * KIB).close();
    }

    @Test
    void saysItIsHostMemory() {
        assertThat(memory.kind()).isEqualTo(DeviceKind.HOST);
        assertThat(memory.describe()).startsWith("host memory standing in for a GPU");
        assertThatThrownBy(() -> new HostDeviceMemory(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
