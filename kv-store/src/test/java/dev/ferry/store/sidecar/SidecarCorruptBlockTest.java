package dev.ferry.store.sidecar;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockKey;
import dev.ferry.nativemem.Slab;
import dev.ferry.store.block.BlockContent;
import dev.ferry.store.master.Lease;
import dev.ferry.store.master.Master;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A block corrupted in the sidecar's slab file (a page overwritten through a mapping of its
 * own) is a miss for GET and GET_INLINE, never a STORE_ERROR that stays and never corrupt
 * bytes: the copy is dropped from the master and counted.
 */
class SidecarCorruptBlockTest {
    private static final long BLOCK = 64 * 1024;
    private static final long CAPACITY = 8 << 20;
    private SidecarFixture fx;
    private SidecarClient client;
    private ShmFile shm;
    private int buffer;

    @BeforeEach
    void start() {
        // No scrub: the readers must be the ones that meet the corrupt copies.
        fx = new SidecarFixture(c -> c.scrubBytesPerSecond(0));
        client = fx.client();
        shm = new ShmFile(2 << 20);
        buffer = client.registerBuffer(shm.path, shm.bytes); // before mapping it here: a buffer the sidecar maps already is refused
    }

    @AfterEach
    void stop() throws IOException {
        client.close();
        fx.close();
        shm.close();
    }

    private void corrupt(long key) {
        Master master = fx.sidecar.embeddedMaster().master();
        Lease lease = master.get(BlockKey.ofAll(key), 10_000);
        long offset = lease.replicas().getFirst().getFirst().offset();
        master.release(lease.id());
        Path slab = Path.of("/dev/shm", "ferry-sc-" + fx.dir.getFileName() + "-" + ProcessHandle.current().pid() + ".slab");
        try (Slab file = Slab.mapExisting(slab, CAPACITY)) {
            MemorySegment page = file.memory().asSlice(offset + Slab.PAGE_BYTES, Slab.PAGE_BYTES);
            page.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, ~page.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
        }
    }

    @Test
    void corruptBlocksAreMissesForGetAndGetInlineAndAreDropped() {
        long[] keys = {1, 2, 3, 4};
        long[] offsets = new long[keys.length];
        long[] lengths = new long[keys.length];
        for (int i = 0; i < keys.length; i++) {
            offsets[i] = i * BLOCK;
            lengths[i] = BLOCK;
            BlockContent.fill(keys[i], shm.slice(offsets[i], BLOCK));
        }
        client.put(keys, buffer, offsets, lengths);
        corrupt(2);
        corrupt(4);

        long readAt = 1 << 20;
        long[] got = client.get(new long[] {1, 2, 3}, buffer, new long[] {readAt, readAt + BLOCK, readAt + 2 * BLOCK},
                new long[] {BLOCK, BLOCK, BLOCK});
        assertThat(got).containsExactly(BLOCK, -1, BLOCK);
        assertThat(BlockContent.firstMismatch(1, shm.slice(readAt, BLOCK))).isEqualTo(-1);
        assertThat(BlockContent.firstMismatch(3, shm.slice(readAt + 2 * BLOCK, BLOCK))).isEqualTo(-1);

        // Inline: the corrupt block in the middle leaves no gap in the answer.
        byte[][] inline = client.getInline(1, 4, 3);
        assertThat(inline[1]).isNull();
        assertThat(BlockContent.firstMismatch(1, MemorySegment.ofArray(inline[0]))).isEqualTo(-1);
        assertThat(BlockContent.firstMismatch(3, MemorySegment.ofArray(inline[2]))).isEqualTo(-1);

        assertThat(client.exists(1, 2, 3, 4)).containsExactly(true, false, true, false);
        assertThat(fx.masterStats().corruptCopies()).isEqualTo(2);
        assertThat(fx.meter("ferry.sidecar.corrupt.copies")).isEqualTo(2);
        // A later read is a plain miss, not the same error again.
        assertThat(client.get(new long[] {2}, buffer, new long[] {readAt}, new long[] {BLOCK})).containsExactly(-1);
    }
}
