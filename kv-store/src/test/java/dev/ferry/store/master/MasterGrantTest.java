package dev.ferry.store.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.eviction.LruPolicy;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.SegmentDescriptor;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Space granted to a node ahead of its puts, and puts committed into it in one call. */
class MasterGrantTest {
    private static final long BLOCK = 8192;
    private final AtomicLong now = new AtomicLong();
    private Master master;

    @BeforeEach
    void start() {
        master = new Master(new LruPolicy(), now::get, 1_000, 5_000);
        master.registerNode("a", new SegmentDescriptor("a/dram", 8 * BLOCK, new Endpoint("127.0.0.1", 1)));
        master.registerNode("b", new SegmentDescriptor("b/dram", 8 * BLOCK, new Endpoint("127.0.0.1", 2)));
    }

    private Master.Granted put(String node, String segment, long offset, long... keys) {
        int n = keys.length;
        long[] offsets = new long[n];
        long[] lengths = new long[n];
        int[] crcs = new int[n];
        String[] names = new String[n];
        for (int i = 0; i < n; i++) {
            offsets[i] = offset + i * BLOCK;
            lengths[i] = BLOCK;
            crcs[i] = (int) keys[i] * 11;
            names[i] = "key-" + keys[i];
        }
        return master.putGranted(node, segment, BlockKey.ofAll(keys), names, offsets, lengths, crcs, 0);
    }

    @Test
    void aGrantCountsAsUsedAndAPutInItIsCommittedInOneCall() {
        long[] range = master.grant("a", "a/dram", 3 * BLOCK);
        assertThat(range).containsExactly(range[0], 3 * BLOCK);
        assertThat(master.stats().usedBytes()).isEqualTo(3 * BLOCK);

        Master.Granted g = put("a", "a/dram", range[0], 1, 2);
        assertThat(g.results()).containsExactly(Master.GRANTED_STORED, Master.GRANTED_STORED);
        assertThat(g.committed().fence()).isDone(); // nothing to wait for: the committer's own node holds them
        assertThat(master.lookupPrefix(BlockKey.ofAll(1, 2))).isEqualTo(2);
        Replica r = master.get(BlockKey.ofAll(2), 1000).replicas().getFirst().getFirst();
        assertThat(r.segment()).isEqualTo("a/dram");
        assertThat(r.offset()).isEqualTo(range[0] + BLOCK);
        assertThat(r.crc32c()).isEqualTo(22);
        assertThat(master.removeByRegex("^key-1$", false)).isEqualTo(1); // the names were recorded
        assertThat(master.stats().usedBytes()).isEqualTo(2 * BLOCK); // key 2 and the unused third of the grant
    }

    @Test
    void aStoredKeyKeepsItsValueAndItsRangeStaysGranted() {
        long[] range = master.grant("a", "a/dram", 2 * BLOCK);
        assertThat(put("a", "a/dram", range[0], 1).results()).containsExactly(Master.GRANTED_STORED);
        // key 1 again, and key 3 into the same range it was given back
        assertThat(put("a", "a/dram", range[0] + BLOCK, 1).results()).containsExactly(Master.GRANTED_EXISTED);
        assertThat(put("a", "a/dram", range[0] + BLOCK, 3).results()).containsExactly(Master.GRANTED_STORED);
        // a key repeated in one call: the second is there already
        long[] more = master.grant("a", "a/dram", 2 * BLOCK);
        assertThat(put("a", "a/dram", more[0], 5, 5).results()).containsExactly(Master.GRANTED_STORED,
                Master.GRANTED_EXISTED);
    }

    @Test
    void aRangeNotGrantedToTheNodeIsRefusedAndNothingIsCommittedForIt() {
        long[] range = master.grant("a", "a/dram", 2 * BLOCK);
        // outside the grant, half outside it, not aligned, another node's segment, another node's grant
        assertThat(put("a", "a/dram", range[0] + 2 * BLOCK, 1).results()).containsExactly(Master.NOT_GRANTED);
        assertThat(put("a", "a/dram", range[0] + BLOCK, 2, 3).results()).containsExactly(Master.GRANTED_STORED,
                Master.NOT_GRANTED);
        assertThat(put("a", "a/dram", range[0] + 1, 4).results()).containsExactly(Master.NOT_GRANTED);
        assertThat(put("b", "a/dram", range[0], 5).results()).containsExactly(Master.NOT_GRANTED);
        assertThat(master.grant("b", "a/dram", BLOCK)).isNull(); // a node is granted only its own segment
        assertThat(master.lookupPrefix(BlockKey.ofAll(1))).isZero();
        assertThat(master.exists(BlockKey.ofAll(3, 4, 5))).containsExactly(false, false, false);
        // the range of key 2 is a block now: granting it again is impossible
        assertThat(put("a", "a/dram", range[0] + BLOCK, 6).results()).containsExactly(Master.NOT_GRANTED);
    }

    @Test
    void aLengthConflictCommitsNothingOfTheCall() {
        master.putStart(BlockKey.ofAll(7), 100); // being written with 100 bytes
        long[] range = master.grant("a", "a/dram", 2 * BLOCK);
        assertThat(put("a", "a/dram", range[0], 1, 7).results()).containsExactly(Master.GRANTED_SKIPPED,
                Master.GRANTED_LENGTH_CONFLICT);
        assertThat(master.exists(BlockKey.ofAll(1))).containsExactly(false);
        assertThat(put("a", "a/dram", range[0], 1).results()).containsExactly(Master.GRANTED_STORED); // still granted
    }

    @Test
    void givenBackRangesAreFreeAgainAndGrantsGoWithTheirNode() {
        long[] range = master.grant("a", "a/dram", 4 * BLOCK);
        put("a", "a/dram", range[0], 1);
        // the used block inside is skipped, the rest freed; a range never granted is skipped
        assertThat(master.returnGranted("a", "a/dram", List.of(new long[] {range[0], BLOCK},
                new long[] {range[0] + BLOCK, 3 * BLOCK}, new long[] {7 * BLOCK, BLOCK}))).isEqualTo(3 * BLOCK);
        assertThat(master.stats().usedBytes()).isEqualTo(BLOCK);
        assertThat(put("a", "a/dram", range[0] + BLOCK, 2).results()).containsExactly(Master.NOT_GRANTED);

        long[] again = master.grant("a", "a/dram", 2 * BLOCK);
        master.declareDead("a/dram");
        master.registerNode("a", new SegmentDescriptor("a/dram", 8 * BLOCK, new Endpoint("127.0.0.1", 1)));
        assertThat(put("a", "a/dram", again[0], 3).results()).containsExactly(Master.NOT_GRANTED);
        assertThat(master.stats().usedBytes()).isZero();
    }

    @Test
    void onlyFreeSpaceWithAsMuchFreeBesideIsGrantedAndBadArgumentsAreRefused() {
        assertThat(master.grant("a", "a/dram", 9 * BLOCK)).isNull(); // larger than the segment
        assertThat(master.grant("a", "unknown/dram", BLOCK)).isNull();
        assertThat(master.grant("a", "a/dram", 5 * BLOCK)).isNull(); // it would leave less than itself free
        assertThat(master.grant("a", "a/dram", 4 * BLOCK)).isNotNull();
        assertThat(master.grant("a", "a/dram", 3 * BLOCK)).isNull(); // 4 free: 1 would be left
        assertThat(master.grant("a", "a/dram", 2 * BLOCK)).isNotNull();
        assertThat(master.grant("a", "a/dram", 2 * BLOCK)).isNull();
        assertThatThrownBy(() -> master.grant("a", "a/dram", 0)).isInstanceOf(MasterException.class);
        assertThatThrownBy(() -> master.putGranted("a", "a/dram", BlockKey.ofAll(1), null, new long[] {0},
                new long[0], new int[1], 0)).isInstanceOf(MasterException.class);
        assertThatThrownBy(() -> master.putGranted("a", "a/dram", BlockKey.ofAll(1), null, new long[] {0},
                new long[] {0}, new int[1], 0)).isInstanceOf(MasterException.class);
    }
}
