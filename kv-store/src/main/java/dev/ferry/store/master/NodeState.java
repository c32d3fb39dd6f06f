package dev.ferry.store.master;

import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.tier.SsdHealth;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The master's view of one store node: its segments, what it offers, its last heartbeat, and
 * the queue of {@link IndexUpdate}s it has not acknowledged yet. Guarded by the master's lock.
 */
final class NodeState {
    final String id;
    final NodeFeatures features;
    final List<String> segments = new ArrayList<>(1);
    private final ArrayDeque<IndexUpdate> updates = new ArrayDeque<>();
    long lastHeartbeat;
    /** Whether its SSD tier takes writes, as of its last heartbeat. */
    SsdHealth ssdHealth = SsdHealth.OK;
    private long lastSeq;

    NodeState(String id, long now, NodeFeatures features) {
        this.id = id;
        this.lastHeartbeat = now;
        this.features = features;
    }

    /** Appends an update; beyond {@code maxBacklog} unacknowledged ones the oldest is dropped. */
    void queue(IndexUpdate.Kind kind, IndexedBlock block, int maxBacklog) {
        if (updates.size() == maxBacklog) {
            updates.pollFirst();
        }
        updates.addLast(new IndexUpdate(++lastSeq, kind, block));
    }

    /** Forgets the updates up to {@code ackedSeq} and returns the next ones, at most {@code max}. */
    List<IndexUpdate> updatesAfter(long ackedSeq, int max) {
        while (!updates.isEmpty() && updates.peekFirst().seq() <= ackedSeq) {
            updates.pollFirst();
        }
        if (updates.isEmpty()) {
            return List.of();
        }
        List<IndexUpdate> out = new ArrayList<>(Math.min(updates.size(), max));
        for (IndexUpdate u : updates) {
            if (out.size() == max) {
                break;
            }
            out.add(u);
        }
        return out;
    }

    /** Updates not acknowledged yet. */
    int backlog() {
        return updates.size();
    }
}
