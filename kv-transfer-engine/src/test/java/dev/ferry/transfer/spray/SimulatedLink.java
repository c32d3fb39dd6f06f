package dev.ferry.transfer.spray;

import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.LinkEstimator;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * An in-memory link for unit tests (named as such): a FIFO server on a {@link FakeClock}
 * that transmits at {@link #bytesPerNano} and completes each slice {@link #latencyNanos}
 * after its transmission ends. Rate and latency may change mid-run; a change applies to
 * slices sent afterwards. Not thread-safe; tests drive it from one thread.
 */
final class SimulatedLink implements Link {
    final String name;
    double bytesPerNano;
    long latencyNanos;
    final LinkEstimator estimator = new LinkEstimator();
    final ArrayDeque<Slice> queue = new ArrayDeque<>();
    final List<Slice> sent = new ArrayList<>();
    boolean up = true;
    long busyUntil;
    long inFlight;
    private final FakeClock sim;

    SimulatedLink(FakeClock sim, String name, double bytesPerNano) {
        this.sim = sim;
        this.name = name;
        this.bytesPerNano = bytesPerNano;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean isUp() {
        return up;
    }

    @Override
    public long inFlightBytes() {
        return inFlight;
    }

    @Override
    public LinkEstimator estimator() {
        return estimator;
    }

    @Override
    public void send(Slice slice) {
        if (!up) {
            sim.listener.onFailed(slice, this, new TransferException(name + " is down", true));
            return;
        }
        slice.markSent(sim.now);
        sent.add(slice);
        inFlight += slice.length();
        long start = Math.max(sim.now, busyUntil);
        busyUntil = start + (long) (slice.length() / bytesPerNano);
        sim.schedule(busyUntil + latencyNanos, () -> {
            inFlight -= slice.length();
            estimator.onCompleted(slice.length(), slice.sentNanos(), sim.now);
            sim.listener.onCompleted(slice, this);
        });
    }
}
