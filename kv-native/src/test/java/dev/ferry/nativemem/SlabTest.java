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

    @Test
    void populateFaultsPagesInAndKeepsContents(@TempDir Path dir) {
        Path file = dir.resolve("p.slab");
        try (Slab slab = Slab.mapShared(file, 64 * Slab.PAGE_BYTES, true)) {
            slab.memory().set(ValueLayout.JAVA_LONG_UNALIGNED, 5 * Slab.PAGE_BYTES + 8, 0x1234_5678_9ABCL);
            Slab.Population how = slab.populate();
            // Linux 5.14 and later know MADV_POPULATE_WRITE; older kernels get the touch loop.
            assertThat(how).isIn(Slab.Population.MADVISE, Slab.Population.TOUCH);
            assertThat(slab.memory().get(ValueLayout.JAVA_LONG_UNALIGNED, 5 * Slab.PAGE_BYTES + 8))
                    .isEqualTo(0x1234_5678_9ABCL);
            assertThat(slab.memory().get(ValueLayout.JAVA_BYTE, slab.bytes() - 1)).isZero();
        }
        try (Slab anonymous = Slab.allocate(3 * Slab.PAGE_BYTES + 5)) {
            anonymous.populate();
            assertThat(anonymous.memory().get(ValueLayout.JAVA_BYTE, 3 * Slab.PAGE_BYTES)).isZero();
        }
    }

    @Test
    void populateRangeMapsPagesOfAnotherMappingWithoutChangingThemAndRejectsBadRanges() {
        // On /dev/shm (4 KiB pages), as store nodes' slabs; a disk file system may map large folios whole.
        Path file = Path.of("/dev/shm", "ferry-slabtest-" + ProcessHandle.current().pid() + "-range.slab");
        long size = 64 * Slab.PAGE_BYTES;
        try (Slab owner = Slab.mapShared(file, size, true)) {
            owner.populate();
            owner.memory().set(ValueLayout.JAVA_LONG_UNALIGNED, 5 * Slab.PAGE_BYTES + 8, 0x1234_5678_9ABCL);
            try (Slab peer = Slab.mapExisting(file, size)) {
                assertThat(peer.residentBytes()).isZero();
                assertThat(peer.populateRange(4 * Slab.PAGE_BYTES, 8 * Slab.PAGE_BYTES)).isTrue();
                assertThat(peer.residentBytes()).isEqualTo(8 * Slab.PAGE_BYTES);
                assertThat(peer.memory().get(ValueLayout.JAVA_LONG_UNALIGNED, 5 * Slab.PAGE_BYTES + 8))
                        .isEqualTo(0x1234_5678_9ABCL);
                assertThatThrownBy(() -> peer.populateRange(1, Slab.PAGE_BYTES))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("page-aligned");
                assertThatThrownBy(() -> peer.populateRange(0, size + 1))
                        .isInstanceOf(IllegalArgumentException.class);
            }
        }
    }

    @Test
    void removeStaleDeletesOnlyFilesOfDeadOwners(@TempDir Path dir) throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long deadPid = gone.pid();
        Path stale = Files.createFile(dir.resolve("ferry-store-1-" + deadPid + ".slab"));
        Path live = Files.createFile(dir.resolve("ferry-store-2-" + ProcessHandle.current().pid() + ".slab"));
        Path other = Files.createFile(dir.resolve("ferry-buffer-" + deadPid + ".bin"));
        Path unnumbered = Files.createFile(dir.resolve("ferry-store-x.slab"));

        assertThat(Slab.removeStale(dir)).containsExactly(stale);

        assertThat(stale).doesNotExist();
        assertThat(live).exists();
        assertThat(other).exists();
        assertThat(unnumbered).exists();
    }
}
