package dev.ferry.store.sidecar;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class Crc32cCombineTest {
    private static int crc(byte[] b, int from, int to) {
        CRC32C c = new CRC32C();
        c.update(b, from, to - from);
        return (int) c.getValue();
    }

    @Test
    void combiningThePartsGivesTheCrcOfTheWhole() {
        Random random = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            byte[] bytes = new byte[1 + random.nextInt(70_000)];
            random.nextBytes(bytes);
            int cut = random.nextInt(bytes.length + 1);
            int combined = Crc32cCombine.combine(crc(bytes, 0, cut), crc(bytes, cut, bytes.length), bytes.length - cut);
            assertThat(combined).isEqualTo(crc(bytes, 0, bytes.length));
        }
    }

    @Test
    void rangesTileABlockInAnyWriteOrder() {
        Random random = new Random(11);
        byte[] block = new byte[4096 * 3 + 100];
        random.nextBytes(block);
        PendingBlock pending = new PendingBlock(new dev.ferry.store.master.Placement(BlockKey.of(1), "s", 0, block.length));
        int[][] ranges = {{4096, 8192}, {0, 4096}, {8192, block.length}};
        for (int[] r : ranges) {
            pending.written(r[0], r[1] - r[0], crc(block, r[0], r[1]));
        }
        assertThat(pending.crcOfWholeBlock()).isEqualTo(crc(block, 0, block.length));
    }
}
