package dev.ferry.store.eviction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LruPolicyTest {
    @Test
    void evictsTheLeastRecentlyUsedEvictableBlock() {
        EvictionPolicy lru = EvictionPolicy.byName("LRU");
        lru.onInsert(1);
        lru.onInsert(2);
        lru.onInsert(3);
        lru.onAccess(1);
        assertThat(lru.victim(k -> true)).isEqualTo(2);
        assertThat(lru.victim(k -> k != 2)).isEqualTo(3);
        lru.onRemove(3);
        assertThat(lru.victim(k -> k != 2)).isEqualTo(1);
        assertThat(lru.victim(k -> false)).isEqualTo(EvictionPolicy.NONE);
    }

    @Test
    void unknownPolicyIsAClearError() {
        assertThatThrownBy(() -> EvictionPolicy.byName("mru")).hasMessageContaining("unknown eviction policy 'mru'");
    }
}
