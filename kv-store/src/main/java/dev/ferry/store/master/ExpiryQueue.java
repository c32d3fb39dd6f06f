package dev.ferry.store.master;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongPredicate;

/**
 * Items ordered by a time (ns, the master's clock): a lease by its deadline, a pending put by
 * its start. A sweep takes the due items from the front and stops at the first that is not
 * due, so it costs what expired, not what is held. O(log n) to add and remove. Not
 * thread-safe: guarded by the master's lock.
 *
 * @param <T> what is queued
 */
final class ExpiryQueue<T> {
    /** An item's place in the queue, to remove it or move it. */
    record Ticket(long time, long seq) implements Comparable<Ticket> {
        @Override
        public int compareTo(Ticket o) {
            int c = Long.compare(time, o.time);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    private final TreeMap<Ticket, T> queue = new TreeMap<>();
    private long nextSeq;

    /** Queues {@code item} at {@code time}; items of equal time keep their order of adding. */
    Ticket add(long time, T item) {
        Ticket t = new Ticket(time, nextSeq++);
        queue.put(t, item);
        return t;
    }

    /** Removes the item of {@code ticket}; nothing when it is no longer queued (or null). */
    void remove(Ticket ticket) {
        if (ticket != null) {
            queue.remove(ticket);
        }
    }

    /**
     * Removes and returns the items from the front, earliest first, while {@code due} accepts
     * their time. {@code due} must accept every time before one it accepts.
     */
    List<T> pollDue(LongPredicate due) {
        List<T> out = List.of();
        for (Map.Entry<Ticket, T> e; (e = queue.firstEntry()) != null && due.test(e.getKey().time()); ) {
            queue.pollFirstEntry();
            if (out.isEmpty()) {
                out = new ArrayList<>();
            }
            out.add(e.getValue());
        }
        return out;
    }

    int size() {
        return queue.size();
    }
}
