package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.alloc.OffsetAllocator;
import dev.ferry.store.master.MasterException.Reason;
import java.util.ArrayList;
import java.util.List;

/**
 * Placement and allocation of a new block's copies: each on a different node, the preferred
 * segment first when it has room, then the segment with the most free bytes; when none has
 * room, room is made ({@link Eviction#makeRoom}) on a node the block does not use yet. Not
 * thread-safe: guarded by the master's lock.
 */
final class Allocation {
    private final BlockTable blocks;
    private final Membership members;
    private final Eviction eviction;

    Allocation(BlockTable blocks, Membership members, Eviction eviction) {
        this.blocks = blocks;
        this.members = members;
        this.eviction = eviction;
    }

    /**
     * Starts a new block and places its copies.
     *
     * @return the block with at least one copy, or null when none could be placed (nothing is left behind)
     * @throws MasterException BUSY when DRAM is full and demotion is under way (nothing is left behind)
     */
    BlockState allocate(BlockKey key, long bytes, int replicas, String preferredSegment, long now) {
        BlockState block = blocks.start(key, bytes, now, replicas);
        // At most one copy per node: the count a client asks for bounds nothing allocated here.
        List<String> usedNodes = new ArrayList<>(Math.min(replicas, members.segments().size()));
        while (block.copies.size() < replicas) {
            SegmentState target = choose(bytes, preferredSegment, usedNodes);
            if (target == null) {
                // Only room on a node this block does not use yet helps.
                Eviction.Room room = eviction.makeRoom(k -> true,
                        segment -> !usedNodes.contains(members.segment(segment).nodeId()), true);
                if (room == Eviction.Room.FREED) {
                    continue;
                }
                if (room == Eviction.Room.WAIT_FOR_DEMOTION && block.copies.isEmpty()) {
                    blocks.forget(key);
                    throw new MasterException(Reason.BUSY, "DRAM is full and blocks are being demoted to SSD: retry");
                }
                break;
            }
            block.copies.add(new CopyState(target, target.allocator().allocate(bytes), bytes));
            usedNodes.add(target.nodeId());
        }
        if (block.copies.isEmpty()) {
            blocks.forget(key);
            return null;
        }
        return block;
    }

    /** The segment for the next copy: the preferred one, else the one with the most free bytes. */
    private SegmentState choose(long bytes, String preferredSegment, List<String> usedNodes) {
        long size = OffsetAllocator.aligned(bytes);
        SegmentState preferred = preferredSegment == null ? null : members.preferred(preferredSegment);
        if (preferred != null && !usedNodes.contains(preferred.nodeId()) && preferred.allocator().largestFree() >= size) {
            return preferred;
        }
        SegmentState best = null;
        for (SegmentState s : members.segments()) {
            if (!usedNodes.contains(s.nodeId()) && s.allocator().largestFree() >= size
                    && (best == null || s.allocator().freeBytes() > best.allocator().freeBytes())) {
                best = s;
            }
        }
        return best;
    }
}
