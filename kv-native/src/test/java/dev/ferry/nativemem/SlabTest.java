package dev.ferry.nativemem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SlabTest {
    @Test
    void anonymousSlabIsPageAlignedAndZeroed() {
        try (Slab slab = Slab.allocate(3 * Slab.PAGE_BYTES + 5)) {
            assertThat(slab.memory().address() % Slab.PAGE_BYTES).isZero();
            assertThat(slab.bytes()).isEqualTo(3 * Slab.PAGE_BYTES + 5);
            assertThat(slab.memory().get(ValueLayout.JAVA_BYTE, slab.bytes() - 1)).isZero();
            assertThat(slab.file()).isEmpty();
        }
    }

    @Test
    void sharedSlabKeepsContentsAcrossMappings(@TempDir Path dir) {
        Path file = dir.resolve("a.slab");
        try (Slab slab = Slab.mapShared(file, 1 << 20, false)) {
            slab.memory().set(ValueLayout.JAVA_LONG_UNALIGNED, 12345, 0xCAFEBABEL);
        }
        assertThat(file).exists();
        try (Slab again = Slab.mapShared(file, 1 << 20, true)) {
            assertThat(again.memory().get(ValueLayout.JAVA_LONG_UNALIGNED, 12345)).isEqualTo(0xCAFEBABEL);
        }
        assertThat(Files.exists(file)).isFalse();
    }

    @Test
    void refusesEmptySlabsAndUseAfterClose() {
        assertThatThrownBy(() -> Slab.allocate(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 1 byte");
        Slab slab = Slab.allocate(64);
        slab.close();
        assertThatThrownBy(() -> slab.memory().get(ValueLayout.JAVA_BYTE, 0))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void probeDescribesTheMachine() {
        MachineInfo info = MachineInfo.probe();
        assertThat(info.cpus()).isPositive();
        assertThat(info.describe()).contains("cpus");
    }
}
