package dev.ferry.store.master;

import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.transfer.segment.SegmentDescriptor;

/** A registered segment, its owner and its allocator. Guarded by the master's lock. */
record SegmentState(String nodeId, SegmentDescriptor descriptor, OffsetAllocator allocator) {
}
