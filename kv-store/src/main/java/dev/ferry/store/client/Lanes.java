package dev.ferry.store.client;

import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.Function;

/**
 * A fixed set of interchangeable resources (a staging buffer, a connection with its shared
 * buffer) lent to one call at a time: a call takes a free lane or waits for one.
 *
 * <p>Thread-safe. Owns its lanes: {@link #close()} closes each.
 *
 * @param <T> the lane's type
 */
public final class Lanes<T extends AutoCloseable> implements AutoCloseable {
    private final List<T> all;
    private final BlockingQueue<T> free;

    /** @param lanes the lanes, at least one; owned from now on */
    public Lanes(List<T> lanes) {
        if (lanes.isEmpty()) {
            throw new IllegalArgumentException("at least one lane is needed");
        }
        this.all = List.copyOf(lanes);
        this.free = new ArrayBlockingQueue<>(lanes.size(), false, lanes);
    }

    /**
     * Runs {@code work} with a free lane, waiting for one.
     *
     * @throws StoreException when interrupted while waiting (the interrupt flag is kept)
     */
    public <R> R with(Function<T, R> work) {
        T lane;
        try {
            lane = free.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while waiting for a staging buffer", e);
        }
        try {
            return work.apply(lane);
        } finally {
            free.add(lane);
        }
    }

    /** How many lanes there are. */
    public int size() {
        return all.size();
    }

    /** Closes every lane; call once no call uses them. Failures of one do not stop the others. */
    @Override
    public void close() {
        RuntimeException failure = null;
        for (T lane : all) {
            try {
                lane.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("closing a lane failed: " + e.getMessage(), e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
