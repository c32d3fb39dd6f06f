package dev.ferry.store.master;

import dev.ferry.store.index.IndexedBlock;
import dev.ferry.store.tier.SsdHealth;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The master's view of one store node: its segments, what it offers, its last heartbeat, the
 * queue of {@link IndexUpdate}s it has not acknowledged yet, the commits waiting for the
 * node to acknowledge their updates, and the node's parked index poll. Guarded by the
 * master's lock.
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
    private long ackedSeq;
    /** Commits waiting for an acknowledgement, by the update sequence they need, ascending. */
    private final ArrayDeque<SeqWaiter> waiters = new ArrayDeque<>();
    /** Completed when an update is queued or the node is dropped: wakes a parked index poll. */
    private CompletableFuture<Void> news = new CompletableFuture<>();

    private record SeqWaiter(long seq, CompletableFuture<Void> done) {
    }

    NodeState(String id, long now, NodeFeatures features) {
        this.id = id;
        this.lastHeartbeat = now;
        this.features = features;
    }

    /** Appends an update and wakes the node's index poll; beyond {@code maxBacklog} unacknowledged ones the oldest is dropped. */
    void queue(IndexUpdate.Kind kind, IndexedBlock block, int maxBacklog) {
        queueQuietly(kind, block, maxBacklog);
        signal();
    }

    /**
     * {@link #queue} without waking the node's index poll: the caller {@link #signal}s it
     * later, or hands the update to the node another way (a commit's answer) and a poll waiting
     * meanwhile gets it at its deadline.
     */
    void queueQuietly(IndexUpdate.Kind kind, IndexedBlock block, int maxBacklog) {
        if (updates.size() == maxBacklog) {
            updates.pollFirst();
        }
        updates.addLast(new IndexUpdate(++lastSeq, kind, block));
    }

    /** Wakes the node's index poll waiting for news ({@link #news}). */
    void signal() {
        news.complete(null);
    }

    /** Sequence of the newest queued update (0 before the first). */
    long lastSeq() {
        return lastSeq;
    }

    /**
     * A stage that completes once the node has acknowledged every update up to {@code seq}
     * (at once when it has), or when the node is dropped.
     */
    CompletableFuture<Void> acknowledged(long seq) {
        if (seq <= ackedSeq) {
            return CompletableFuture.completedFuture(null);
        }
        SeqWaiter w = new SeqWaiter(seq, new CompletableFuture<>());
        waiters.addLast(w);
        return w.done();
    }

    /** A stage that completes when an update is queued for the node (a fresh one once it has). */
    CompletableFuture<Void> news() {
        if (news.isDone()) {
            news = new CompletableFuture<>();
        }
        return news;
    }

    /** The node is gone: nothing more will be acknowledged or queued, so nobody waits on it. */
    void abandon() {
        for (SeqWaiter w; (w = waiters.pollFirst()) != null; ) {
            w.done().complete(null);
        }
        news.complete(null);
    }

    /**
     * Records that the node applied the updates up to {@code ackedSeq} (releasing the commits
     * that waited for them), forgets those updates and returns the next ones, at most {@code max}.
     */
    List<IndexUpdate> updatesAfter(long ackedSeq, int max) {
        if (ackedSeq > lastSeq) {
            ackedSeq = this.ackedSeq; // numbered for an earlier registration of the node: acknowledges nothing
        } else if (ackedSeq > this.ackedSeq) {
            this.ackedSeq = ackedSeq;
            while (!waiters.isEmpty() && waiters.peekFirst().seq() <= ackedSeq) {
                waiters.pollFirst().done().complete(null);
            }
        }
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
