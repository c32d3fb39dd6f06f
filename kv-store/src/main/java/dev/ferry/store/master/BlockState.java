package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import java.util.ArrayList;
import java.util.List;

/**
 * The master's record of one block: its copies, commit state, CRC, leases and pins. Guarded
 * by the master's lock.
 */
final class BlockState {
    final BlockKey key;
    final long length;
    final long createdNanos;
    final int wantedReplicas;
    final List<CopyState> copies = new ArrayList<>(1);
    boolean committed;
    int crc;
    int leases;
    boolean hardPin;
    long softPinUntil = Long.MIN_VALUE;
    /** The string key the block was put under (Mooncake's key), or null when its writer named none. */
    String name;
    /**
     * DRAM ranges of copies dropped as corrupt while the block was leased: freed when the
     * last lease ends (a reader may still be moving bytes from them). Null when none.
     */
    List<DroppedRange> dropped;

    /** A DRAM range of a dropped copy, in the segment registration it belonged to. */
    record DroppedRange(SegmentState segment, long offset) {
    }

    BlockState(BlockKey key, long length, long createdNanos, int wantedReplicas) {
        this.key = key;
        this.length = length;
        this.createdNanos = createdNanos;
        this.wantedReplicas = wantedReplicas;
    }

    CopyState copyIn(String segment) {
        for (CopyState c : copies) {
            if (c.segment.equals(segment)) {
                return c;
            }
        }
        return null;
    }

    /** Removes a copy from the block and from its segment's counters. */
    void removeCopy(CopyState c) {
        copies.remove(c);
        c.detach();
    }

    /** Whether some copy can be read from DRAM now. */
    boolean inDram() {
        for (CopyState c : copies) {
            if (c.dram().readable()) {
                return true;
            }
        }
        return false;
    }
}
