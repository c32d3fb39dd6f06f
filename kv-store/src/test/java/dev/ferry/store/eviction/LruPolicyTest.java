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
