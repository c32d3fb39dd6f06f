package dev.ferry.store.sidecar;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.store.block.BlockContent;
import dev.ferry.store.block.BlockKey;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Two sidecars sharing one master (the first embeds it, the second joins with
 * {@code --master}): blocks put through one are read through the other, so bytes cross
 * between the sidecars' transfer engines, from and into clients' shared buffers: through
 * a mapping of the other node's slab file, and over TCP.
 */
class TwoSidecarsTest {
    private static final long BLOCK = 128 * 1024;

    @ParameterizedTest(name = "shared memory {0}")
    @ValueSource(booleans = {true, false})
    void blocksPutThroughOneSidecarAreReadThroughTheOther(boolean sharedMemory) throws IOException {
        try (SidecarFixture first = new SidecarFixture(c -> c.capacityBytes(4 * BLOCK).sharedMemory(sharedMemory));
             SidecarFixture second = new SidecarFixture(c -> c.capacityBytes(4 * BLOCK).sharedMemory(sharedMemory)
                     .master(first.sidecar.masterAddress()));
             SidecarClient a = first.client();
             SidecarClient b = second.client();
             ShmFile bufA = new ShmFile(8 * BLOCK);
             ShmFile bufB = new ShmFile(8 * BLOCK)) {
            int idA = a.registerBuffer(bufA.path, 8 * BLOCK);
            int idB = b.registerBuffer(bufB.path, 8 * BLOCK);
            long[] keys = {1, 2, 3, 4, 5, 6};
            long[] offsets = new long[keys.length];
            long[] lengths = new long[keys.length];
            for (int i = 0; i < keys.length; i++) {
                offsets[i] = i * BLOCK;
                lengths[i] = BLOCK;
                BlockContent.fill(keys[i], bufA.slice(offsets[i], BLOCK));
            }
            // Six blocks do not fit one sidecar's four: the master places some on each node.
            assertThat(a.put(keys, idA, offsets, lengths)).containsOnly(0);
            assertThat(first.masterStats().nodes()).isEqualTo(2);
            assertThat(b.get(keys, idB, offsets, lengths)).containsOnly(BLOCK);
            for (int i = 0; i < keys.length; i++) {
                assertThat(BlockContent.firstMismatch(keys[i], bufB.slice(offsets[i], BLOCK))).as("key %d", keys[i])
                        .isEqualTo(-1);
            }
            assertThat(b.lookupPrefix(keys)).isEqualTo(6);
            double shmBytes = second.sidecar.registry().get("ferry.transfer.shm.bytes").functionCounter().count();
            assertThat(shmBytes > 0).isEqualTo(sharedMemory);
        }
    }
    /**
     * PUT_FROM and GET_INTO when a block lies on the other node: filled in the sidecar's own
     * memory, then written to the other node; read from the other node, checked, then copied
     * to the client's private memory.
     */
    @Test
    void privateMemoryReachesBlocksOnTheOtherNode() throws IOException {
        try (SidecarFixture first = new SidecarFixture(c -> c.capacityBytes(4 * BLOCK));
             SidecarFixture second = new SidecarFixture(c -> c.capacityBytes(4 * BLOCK)
                     .master(first.sidecar.masterAddress()));
             SidecarClient a = first.client();
             SidecarClient b = second.client();
             Arena arena = Arena.ofConfined()) {
            long[] keys = {11, 12, 13, 14, 15, 16};
            MemorySegment values = arena.allocate(keys.length * BLOCK, 64);
            SidecarClient.TwoParts[] puts = new SidecarClient.TwoParts[keys.length];
            for (int i = 0; i < keys.length; i++) {
                BlockContent.fill(keys[i], values.asSlice(i * BLOCK, BLOCK));
                puts[i] = new SidecarClient.TwoParts(BlockKey.of(keys[i]), 0, 0, 0, SidecarProtocol.PROCESS_MEMORY,
                        values.address() + i * BLOCK, BLOCK);
            }
            // Six blocks do not fit one sidecar's four: some go to the other node.
            assertThat(a.putFrom(puts)).containsOnly(0);
            assertThat(first.masterStats().nodes()).isEqualTo(2);
            MemorySegment into = arena.allocate(keys.length * BLOCK, 64);
            SidecarClient.TwoParts[] gets = new SidecarClient.TwoParts[keys.length];
            for (int i = 0; i < keys.length; i++) {
                gets[i] = new SidecarClient.TwoParts(BlockKey.of(keys[i]), 0, 0, 0, SidecarProtocol.PROCESS_MEMORY,
                        into.address() + i * BLOCK, BLOCK);
            }
            assertThat(b.getInto(gets)).containsOnly(BLOCK);
            assertThat(a.getInto(gets)).containsOnly(BLOCK);
            for (int i = 0; i < keys.length; i++) {
                assertThat(BlockContent.firstMismatch(keys[i], into.asSlice(i * BLOCK, BLOCK))).as("key %d", keys[i])
                        .isEqualTo(-1);
            }
        }
    }

    /**
     * A named put of a key whose only copy lies on a sidecar that has stopped (and that the
     * master has not dropped yet): the read of the stored string key fails, the master probes
     * that node and drops it, and the put stores the value here instead of failing.
     */
    @Test
    void aNamedPutOfAKeyHeldOnlyByAStoppedSidecarStoresItAgain() throws IOException {
        BlockKey key = new BlockKey(7, 77);
        try (SidecarFixture first = new SidecarFixture(c -> c.capacityBytes(4 * BLOCK));
             SidecarClient a = first.client();
             ShmFile bufA = new ShmFile(3 * BLOCK)) {
            int idA = a.registerBuffer(bufA.path, 3 * BLOCK);
            BlockContent.fill(7, bufA.slice(0, BLOCK));
            try (SidecarFixture second = new SidecarFixture(c -> c.capacityBytes(4 * BLOCK)
                    .master(first.sidecar.masterAddress()));
                 SidecarClient b = second.client();
                 ShmFile bufB = new ShmFile(2 * BLOCK)) {
                int idB = b.registerBuffer(bufB.path, 2 * BLOCK);
                BlockContent.fill(8, bufB.slice(0, BLOCK));
                assertThat(b.putNamed(new BlockKey[] {key}, new String[] {"k"}, idB, new long[] {0},
                        new long[] {BLOCK})).containsExactly(0);
            }
            assertThat(first.masterStats().blocks()).isEqualTo(1); // on the stopped node, still listed
            assertThat(a.putNamed(new BlockKey[] {key}, new String[] {"k"}, idA, new long[] {0},
                    new long[] {BLOCK})).containsExactly(0);
            assertThat(a.getNamed(new BlockKey[] {key}, new String[] {"k"}, idA, new long[] {BLOCK},
                    new long[] {BLOCK + 64})).containsExactly(BLOCK);
            long at = BLOCK + NamedBlock.headerLength(1);
            assertThat(BlockContent.firstMismatch(7, bufA.slice(at, BLOCK))).isEqualTo(-1);
        }
    }
}
