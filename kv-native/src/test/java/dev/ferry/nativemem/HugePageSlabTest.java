package dev.ferry.nativemem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Slabs on tmpfs mounts of each {@code huge=} option: the page size a slab gets, and that
 * nothing is left mounted or on disk. Mounting needs root; the tests are skipped, with the
 * reason, elsewhere.
 */
class HugePageSlabTest {
    private static final long BYTES = 8 * Slab.HUGE_PAGE_BYTES;

    @Test
    void slabOnAHugeAlwaysTmpfsGetsHugePagesAndLeavesNothing(@TempDir Path parent) throws IOException {
        Path dir;
        Path file;
        try (HugeTmpfs tmpfs = mountOrSkip(parent, HugeTmpfs.Huge.ALWAYS)) {
            dir = tmpfs.dir();
            assertThat(mounted(dir)).isTrue();
            file = dir.resolve("ferry-huge-test.slab");
            try (Slab slab = Slab.mapShared(file, BYTES, true)) {
                slab.memory().set(ValueLayout.JAVA_LONG_UNALIGNED, 3 * Slab.HUGE_PAGE_BYTES + 8, 0x5EED_F00DL);
                slab.populate();
                assertThat(slab.hugePageBytes()).isEqualTo(BYTES);
                assertThat(slab.pageSize()).isEqualTo("2MiB");
                assertThat(slab.memory().get(ValueLayout.JAVA_LONG_UNALIGNED, 3 * Slab.HUGE_PAGE_BYTES + 8))
                        .isEqualTo(0x5EED_F00DL);
                // Another mapping of the same file (a shared-memory transport's reader) gets them too.
                try (Slab reader = Slab.mapExisting(file, BYTES)) {
                    reader.memory().get(ValueLayout.JAVA_BYTE, 0); // faults the first page in
                    assertThat(reader.hugePageBytes()).isGreaterThanOrEqualTo(Slab.HUGE_PAGE_BYTES);
                }
            }
            assertThat(file).doesNotExist();
        }
        assertThat(mounted(dir)).isFalse();
        assertThat(dir).doesNotExist();
    }

    @Test
    void theSlabAsksForHugePagesWhereTheMountAdvises(@TempDir Path parent) {
        try (HugeTmpfs tmpfs = mountOrSkip(parent, HugeTmpfs.Huge.ADVISE);
             Slab slab = Slab.mapShared(tmpfs.dir().resolve("ferry-advise-test.slab"), BYTES, true)) {
            slab.populate();
            assertThat(slab.hugePageBytes()).isEqualTo(BYTES);
        }
    }

    @Test
    void slabOnAHugeNeverTmpfsHasSmallPages(@TempDir Path parent) {
        try (HugeTmpfs tmpfs = mountOrSkip(parent, HugeTmpfs.Huge.NEVER);
             Slab slab = Slab.mapShared(tmpfs.dir().resolve("ferry-never-test.slab"), BYTES, true)) {
            slab.populate();
            assertThat(slab.hugePageBytes()).isZero();
            assertThat(slab.pageSize()).isEqualTo("4KiB");
        }
    }

    @Test
    void aTmpfsBelowOneHugePageIsRefused(@TempDir Path parent) throws IOException {
        assertThatThrownBy(() -> HugeTmpfs.mount(parent, Slab.HUGE_PAGE_BYTES - 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one 2 MiB page");
        try (var left = Files.list(parent)) {
            assertThat(left).isEmpty();
        }
    }

    private static HugeTmpfs mountOrSkip(Path parent, HugeTmpfs.Huge huge) {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root");
        try {
            return HugeTmpfs.mount(parent, BYTES + Slab.HUGE_PAGE_BYTES, huge);
        } catch (IllegalStateException e) {
            assumeTrue(false, "no tmpfs mount here: " + e.getMessage());
            throw e;
        }
    }

    private static boolean mounted(Path dir) throws IOException {
        return Files.readAllLines(Path.of("/proc/mounts")).stream()
                .anyMatch(line -> line.split(" ")[1].equals(dir.toString()));
    }
}
