package dev.ferry.nativemem.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.ferry.nativemem.MachineInfo;
import org.junit.jupiter.api.Test;

/** {@link DeviceMemories} and {@link DeviceChoice}: which device memory opens, and why. */
class DeviceMemoriesTest {
    @Test
    void parsesTheThreeChoicesAndRefusesOthers() {
        assertThat(DeviceChoice.parse("host")).isEqualTo(DeviceChoice.HOST);
        assertThat(DeviceChoice.parse(" CUDA ")).isEqualTo(DeviceChoice.CUDA);
        assertThat(DeviceChoice.parse("Auto")).isEqualTo(DeviceChoice.AUTO);
        assertThat(DeviceChoice.AUTO).hasToString("auto");
        assertThatThrownBy(() -> DeviceChoice.parse("gpu")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("GPU memory must be host, cuda or auto, was 'gpu'");
        assertThatThrownBy(() -> DeviceChoice.parse(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void hostIsHostEvenWhereCudaExists() {
        try (DeviceMemory memory = DeviceMemories.open(DeviceChoice.HOST, 0, 4096)) {
            assertThat(memory.kind()).isEqualTo(DeviceKind.HOST);
            assertThat(memory.describe()).contains("chosen");
        }
    }

    @Test
    void withoutADriverAutoFallsBackToHostMemoryAndSaysWhy() {
        assumeFalse(MachineInfo.probe().cudaDriver(), "this machine has a CUDA driver");
        try (DeviceMemory memory = DeviceMemories.open(DeviceChoice.AUTO, 0, 4096)) {
            assertThat(memory.kind()).isEqualTo(DeviceKind.HOST);
            assertThat(memory.describe()).contains("no CUDA driver: libcuda.so.1 does not load");
        }
    }

    @Test
    void withoutADriverCudaFailsClearly() {
        assumeFalse(MachineInfo.probe().cudaDriver(), "this machine has a CUDA driver");
        assertThatThrownBy(() -> DeviceMemories.open(DeviceChoice.CUDA, 0, 4096))
                .isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("libcuda.so.1");
        assertThatThrownBy(CudaDeviceMemory::loadDriver).as("JCuda's own loading, past the driver check")
                .isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("JCuda's driver library does not load");
    }
}
