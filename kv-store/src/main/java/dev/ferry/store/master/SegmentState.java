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

    SegmentState(String nodeId, SegmentDescriptor descriptor, OffsetAllocator allocator) {
        this.nodeId = nodeId;
        this.descriptor = descriptor;
        this.allocator = allocator;
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
