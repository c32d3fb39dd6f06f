package dev.ferry.store.master;

import dev.ferry.store.index.IndexedBlock;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The index-update stream to the store nodes: queues each node the {@link IndexUpdate}s it has
 * a use for (commits and removals for a node with a local index, demotions and removals for a
 * node with an SSD tier), hands them out to its index polls and heartbeats, and builds the
 * commit fence that waits for the holding nodes' acknowledgements. The per-node queues are the
 * {@link NodeState}s'. Not thread-safe: guarded by the master's lock.
 */
final class IndexLog {
    private final Membership members;
    private final int maxBacklog;

    /** @param maxBacklog most unacknowledged updates kept per node */
    IndexLog(Membership members, int maxBacklog) {
        this.members = members;
        this.maxBacklog = maxBacklog;
    }

    /**
     * Queues an update for the node of {@code segment}, when the node has a use for it.
     *
     * @return the node it was queued for, or null
     */
    NodeState queue(String segment, IndexUpdate.Kind kind, BlockState b, CopyState c) {
        NodeState node = queueQuietly(segment, kind, b, c);
        if (node != null) {
            node.signal();
        }
        return node;
    }

    /**
     * {@link #queue} without waking the node's index poll: the caller signals it
     * ({@link NodeState#signal}) unless it hands the node its updates another way.
     *
     * @return the node it was queued for, or null
     */
    NodeState queueQuietly(String segment, IndexUpdate.Kind kind, BlockState b, CopyState c) {
        NodeState node = members.ownerOf(segment);
        boolean wanted = node != null && switch (kind) {
            case ADD -> node.features.indexed();
            case REMOVE -> node.features.indexed() || node.features.ssd();
            case DRAM_FREED -> node.features.indexed();
            case DEMOTE -> node.features.ssd();
        };
        if (!wanted) {
            return null;
        }
        node.queueQuietly(kind, new IndexedBlock(b.key, c.offset(), b.length, b.crc), maxBacklog);
        return node;
    }

    /** Completes once each of {@code holders} acknowledged every update queued for it so far, or left. */
    static CompletableFuture<Void> fence(List<NodeState> holders) {
        return switch (holders.size()) {
            case 0 -> CompletableFuture.completedFuture(null);
            case 1 -> holders.getFirst().acknowledged(holders.getFirst().lastSeq());
            default -> CompletableFuture.allOf(holders.stream().map(n -> n.acknowledged(n.lastSeq()))
                    .toArray(CompletableFuture[]::new));
        };
    }

    /** The node's next updates after {@code ackedSeq}, at most {@code max}; or, when none, a stage for the next one. */
    static Master.IndexPoll poll(NodeState node, long ackedSeq, int max) {
        List<IndexUpdate> updates = node.updatesAfter(ackedSeq, max);
        return new Master.IndexPoll(updates, updates.isEmpty() ? node.news() : CompletableFuture.completedFuture(null));
    }
}
