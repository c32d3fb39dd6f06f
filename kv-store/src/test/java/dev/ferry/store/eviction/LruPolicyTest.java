package dev.ferry.store.eviction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LruPolicyTest {
    @Test
    void evictsTheLeastRecentlyUsedEvictableBlock() {
        NarrowKeys lru = new NarrowKeys(EvictionPolicy.byName("LRU"));
        lru.onInsert(1);
        lru.onInsert(2);
        lru.onInsert(3);
        lru.onAccess(1);
        assertThat(lru.victim(k -> true)).isEqualTo(2);
        assertThat(lru.victim(k -> k != 2)).isEqualTo(3);
        lru.onRemove(3);
        assertThat(lru.victim(k -> k != 2)).isEqualTo(1);
        assertThat(lru.victim(k -> false)).isEqualTo(NarrowKeys.NONE);
    }

    private static dev.ferry.store.block.BlockKey key(long k) {
        return dev.ferry.store.block.BlockKey.ofAll(k)[0];
    }

    @Test
    void aBlockMovedToASiblingKeepsItsPlaceByRecencyAndItsHold() {
        LruPolicy dram = new LruPolicy();
        EvictionPolicy ssd = dram.sibling();
        for (long k = 1; k <= 6; k++) {
            dram.onInsert(key(k));
        }
        dram.moveTo(key(4), ssd);
        dram.onAccess(key(3));
        dram.moveTo(key(3), ssd); // the most recent now
        dram.moveTo(key(2), ssd); // older than both: before them
        assertThat(dram.victim(k -> true)).isEqualTo(key(1));
        java.util.List<dev.ferry.store.block.BlockKey> asked = new java.util.ArrayList<>();
        assertThat(ssd.victim(k -> {
            asked.add(k);
            return false;
        })).isNull();
        assertThat(asked).containsExactly(key(2), key(4), key(3));
        ssd.moveTo(key(2), dram); // back between 1 and 5
        assertThat(dram.victim(k -> !k.equals(key(1)))).isEqualTo(key(2));
        dram.onHeld(key(5));
        dram.moveTo(key(5), ssd);
        assertThat(ssd.victim(k -> k.equals(key(5)))).as("still held").isNull();
        ssd.onEvictable(key(5));
        assertThat(ssd.victim(k -> !k.equals(key(4)))).as("5 is older than 3").isEqualTo(key(5));
        ssd.moveTo(key(99), dram); // not there: nothing
        assertThat(dram.victim(k -> k.equals(key(99)))).isNull();
        assertThatThrownBy(() -> dram.moveTo(key(1), new LruPolicy())).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unknownPolicyIsAClearError() {
        assertThatThrownBy(() -> EvictionPolicy.byName("mru")).hasMessageContaining("unknown eviction policy 'mru'");
    }

    @Test
    void aHeldBlockIsLeftOutOfTheSearchAndComesBackInItsPlace() {
        NarrowKeys lru = new NarrowKeys(new LruPolicy());
        for (long k = 1; k <= 5; k++) {
            lru.onInsert(k);
        }
        lru.onHeld(1);
        lru.onHeld(2);
        java.util.List<Long> asked = new java.util.ArrayList<>();
        assertThat(lru.victim(k -> {
            asked.add(k);
            return k == 4;
        })).isEqualTo(4);
        assertThat(asked).containsExactly(3L, 4L); // never walked past the held blocks
        lru.onAccess(5);
        lru.onEvictable(2); // older than the newest block: back before 3
        assertThat(lru.victim(k -> true)).isEqualTo(2);
        lru.onEvictable(1);
        assertThat(lru.victim(k -> true)).isEqualTo(1);
        lru.onAccess(1); // now the most recent
        assertThat(lru.victim(k -> k != 2 && k != 3 && k != 4)).isEqualTo(5);
        lru.onRemove(2);
        assertThat(lru.victim(k -> true)).isEqualTo(3);
    }

    @Test
    void aHeldBlockThatIsTouchedComesBackAsTheMostRecent() {
        NarrowKeys lru = new NarrowKeys(new LruPolicy());
        lru.onInsert(1);
        lru.onInsert(2);
        lru.onHeld(1);
        lru.onAccess(1);
        lru.onEvictable(1);
        assertThat(lru.victim(k -> true)).isEqualTo(2);
        lru.onRemove(2);
        assertThat(lru.victim(k -> true)).isEqualTo(1);
        lru.onRemove(1);
        assertThat(lru.victim(k -> true)).isEqualTo(NarrowKeys.NONE);
    }

    @Test
    void theOrderWithHoldsIsTheOrderWithoutThem() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        NarrowKeys plain = new NarrowKeys(new LruPolicy());
        NarrowKeys holding = new NarrowKeys(new LruPolicy());
        java.util.Set<Long> held = new java.util.HashSet<>();
        java.util.Set<Long> present = new java.util.HashSet<>();
        for (int step = 0; step < 20_000; step++) {
            long key = random.nextInt(200);
            switch (random.nextInt(5)) {
                case 0 -> {
                    if (present.add(key)) {
                        plain.onInsert(key);
                        holding.onInsert(key);
                    }
                }
                case 1 -> {
                    plain.onAccess(key);
                    holding.onAccess(key);
                }
                case 2 -> {
                    if (present.contains(key) && held.add(key)) {
                        holding.onHeld(key);
                    }
                }
                case 3 -> {
                    if (held.remove(key)) {
                        holding.onEvictable(key);
                    }
                }
                default -> {
                    if (present.remove(key)) {
                        held.remove(key);
                        plain.onRemove(key);
                        holding.onRemove(key);
                    }
                }
            }
            long expected = plain.victim(k -> !held.contains(k));
            assertThat(holding.victim(k -> !held.contains(k))).isEqualTo(expected);
        }
    }
}
