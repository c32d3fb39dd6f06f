package dev.ferry.store.master;

import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.transfer.segment.SegmentDescriptor;

/** A registered segment, its owner and its allocator. Guarded by the master's lock. */
final class SegmentState {
    private final String nodeId;
    private final SegmentDescriptor descriptor;
    private final OffsetAllocator allocator;
    /**
     * When demotion in this segment last moved: a block was asked to go to SSD, or reported
     * written, ns on the master's clock.
     */
    long demotionProgressNanos;
    /**
     * A demotion failed since the last one that succeeded: asking for more is then no
     * progress, so that a put stops waiting on a node that cannot write.
     */
    boolean demotionFailed;
    /** Copies here in {@link CopyState.Dram#DEMOTING}. */
    private int demoting;
    /** Aligned DRAM bytes of those copies. */
    private long demotingBytes;
    /** Bytes of copies here that are on SSD or on their way there ({@link CopyState#claimsSsd()}). */
    private long ssdBytes;
    /** Copies here readable from DRAM that the node's SSD also holds. */
    private int inBothTiers;

    /**
     * Ranges of this segment granted to its own node ahead of its puts ({@link
     * Master#grant}): allocated in {@link #allocator()}, not yet a block's. A put of the
     * node's carves its block out of them ({@link Master#putGranted}).
     */
    private final OffsetAllocator granted;

    SegmentState(String nodeId, SegmentDescriptor descriptor, OffsetAllocator allocator) {
        this.nodeId = nodeId;
        this.descriptor = descriptor;
        this.allocator = allocator;
        this.granted = OffsetAllocator.empty(allocator.capacity());
    }

    /** The ranges granted to the node and not used yet. */
    OffsetAllocator granted() {
        return granted;
    }

    /** Copies here being demoted. */
    int demoting() {
        return demoting;
    }

    /** Aligned DRAM bytes of the copies being demoted. */
    long demotingBytes() {
        return demotingBytes;
    }

    /** Bytes of copies on the node's SSD or on their way there. */
    long ssdBytes() {
        return ssdBytes;
    }

    /** Copies here readable from DRAM that the node's SSD also holds (whose DRAM is free to drop). */
    int inBothTiers() {
        return inBothTiers;
    }

    void count(CopyState c) {
        add(c, 1);
    }

    void uncount(CopyState c) {
        add(c, -1);
    }

    private void add(CopyState c, int sign) {
        if (c.dram() == CopyState.Dram.DEMOTING) {
            demoting += sign;
            demotingBytes += sign * c.alignedLength();
        }
        if (c.claimsSsd()) {
            ssdBytes += sign * c.length();
        }
        if (c.dram().readable() && c.ssd() == CopyState.Ssd.STORED) {
            inBothTiers += sign;
        }
    }

    String nodeId() {
        return nodeId;
    }

    SegmentDescriptor descriptor() {
        return descriptor;
    }

    OffsetAllocator allocator() {
        return allocator;
    }
}
