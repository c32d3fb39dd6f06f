package dev.ferry.transfer.spray;

import dev.ferry.transfer.transport.SliceListener;
import java.util.PriorityQueue;

/**
 * A fake clock for unit tests: discrete events in simulated nanoseconds, run in time order,
 * for {@link SimulatedLink}s. Nothing sleeps; one thread.
 */
final class FakeClock {
    private record Event(long at, long seq, Runnable action) {
    }

    private final PriorityQueue<Event> events = new PriorityQueue<>((a, b) -> a.at != b.at
            ? Long.compare(a.at, b.at) : Long.compare(a.seq, b.seq));
    private long seq;
    long now;
    SliceListener listener;

    void schedule(long at, Runnable action) {
        events.add(new Event(at, seq++, action));
    }

    /** Runs events until none is left. */
    void run() {
        Event e;
        while ((e = events.poll()) != null) {
            now = e.at;
            e.action.run();
        }
    }
}
