package dev.ferry.nativemem;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmapsTest {
    private static final String SMAPS = """
            7f0000000000-7f0000400000 rw-s 00000000 00:1a 42                         /mnt/huge/ferry-a.slab
            Size:               4096 kB
            Rss:                4096 kB
            AnonHugePages:         0 kB
            ShmemPmdMapped:     2048 kB
            FilePmdMapped:         0 kB
            7f0000400000-7f0000600000 rw-p 00000000 00:00 0
            Size:               2048 kB
            Rss:                1024 kB
            AnonHugePages:      2048 kB
            ShmemPmdMapped:        0 kB
            ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
            AnonHugePages:         0 kB
            """;

    @Test
    void sumsTheHugePagesOfTheMappingsInTheRange(@TempDir Path dir) throws IOException {
        Path smaps = Files.writeString(dir.resolve("smaps"), SMAPS);
        assertThat(Smaps.hugeBytes(smaps, 0x7f0000000000L, 4L << 20)).isEqualTo(2L << 20);
        assertThat(Smaps.hugeBytes(smaps, 0x7f0000000000L, 6L << 20)).isEqualTo(4L << 20);
        assertThat(Smaps.hugeBytes(smaps, 0x7f0000400000L, 2L << 20)).isEqualTo(2L << 20);
        assertThat(Smaps.hugeBytes(smaps, 0x1000, 4096)).isZero();
        assertThat(Smaps.hugeBytes(smaps, 0x7f0000000000L, 1024)).isEqualTo(1024); // capped at the range
    }

    @Test
    void sumsTheResidentBytesOfTheMappingsInTheRange(@TempDir Path dir) throws IOException {
        Path smaps = Files.writeString(dir.resolve("smaps"), SMAPS);
        assertThat(Smaps.residentBytes(smaps, 0x7f0000000000L, 4L << 20)).isEqualTo(4L << 20);
        assertThat(Smaps.residentBytes(smaps, 0x7f0000400000L, 2L << 20)).isEqualTo(1L << 20);
        assertThat(Smaps.residentBytes(smaps, 0x7f0000000000L, 6L << 20)).isEqualTo(5L << 20);
        assertThat(Smaps.residentBytes(smaps, 0x1000, 4096)).isZero();
    }

    @Test
    void aMissingFileMeansNoHugePages(@TempDir Path dir) {
        assertThat(Smaps.hugeBytes(dir.resolve("none"), 0, 4096)).isZero();
    }
}
