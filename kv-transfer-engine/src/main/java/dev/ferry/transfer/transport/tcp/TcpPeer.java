package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.slice.TransferException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The links to one peer (over one or more of its endpoints). A link that is down is
 * quarantined: probed by reconnects with exponential backoff from
 * {@code reconnectBackoffNanos}, and readmitted when a connect succeeds. A connection lost
 * with slices unanswered is fenced through the others ({@link #fence}).
 *
 * <p>Thread-safe. Connecting blocks: never call it on an event loop.
 */
final class TcpPeer {
    private final List<TcpLink> links;
    private final long connectTimeoutMillis;
    private final long reconnectBackoffNanos;
    private final ScheduledExecutorService timers;
    private final long fenceTimeoutNanos;
    private final java.util.concurrent.atomic.LongAdder peersGone;
    private boolean attempted;

    /**
     * Connects refused in a row on every endpoint after which a peer that itself ended a lost
     * connection counts as gone.
     */
    static final int REFUSALS_FOR_GONE = 2;

    /** Pause between tries of a FENCE while no other link is up, ms. */
    static final long FENCE_RETRY_MILLIS = 50;

    /**
     * @param timers            runs the retries of fences
     * @param fenceTimeoutNanos longest time a fence is tried before it fails, ns
     * @param peersGone         counts the fences completed because the peer is gone
     */
    TcpPeer(List<TcpLink> links, long connectTimeoutMillis, long reconnectBackoffNanos,
            ScheduledExecutorService timers, long fenceTimeoutNanos, java.util.concurrent.atomic.LongAdder peersGone) {
        this.peersGone = peersGone;
        this.links = List.copyOf(links);
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.reconnectBackoffNanos = reconnectBackoffNanos;
        this.timers = timers;
        this.fenceTimeoutNanos = fenceTimeoutNanos;
        this.links.forEach(link -> link.attach(this));
    }

    /**
     * Asks the peer to close the connection of {@code lostToken} (or to refuse it should it
     * still arrive), on any other link that is up, again every {@value #FENCE_RETRY_MILLIS} ms
     * while none is or the one used closes first. Never blocks.
     *
     * <p>When the peer is gone no FENCE can be answered, so none is waited for: if the peer
     * ended the lost connection itself ({@code closedByPeer}: its FIN or RST came in, so its
     * socket of that connection is closed and no byte of it can land any more) and, with no
     * link up, every link's endpoint then refused {@value #REFUSALS_FOR_GONE} connects in a row
     * (nothing listens there: its process is gone), the fence completes without an answer.
     * The refusals guard against a reset that a middlebox forged while the peer lives on. A
     * peer declared dead by the master but not seen to close the connection (a partition, a
     * host that no longer answers) is waited for: it may still be alive and read the bytes.
     *
     * @param closedByPeer whether the peer ended the lost connection
     * @return completes on the peer's FENCE_ACK: no byte of the lost connection can land after
     *         it; completes exceptionally with a non-retryable {@link TransferException} when
     *         that is not confirmed within the fence timeout
     */
    CompletableFuture<Void> fence(long lostToken, boolean closedByPeer) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        tryFence(lostToken, closedByPeer, done, System.nanoTime() + fenceTimeoutNanos);
        return done;
    }

    /** Every link down, its endpoint having refused {@value #REFUSALS_FOR_GONE} connects in a row. */
    boolean refusedEverywhere() {
        for (TcpLink link : links) {
            if (link.isUp() || link.refusedInARow() < REFUSALS_FOR_GONE) {
                return false;
            }
        }
        return true;
    }

    private void tryFence(long lostToken, boolean closedByPeer, CompletableFuture<Void> done, long deadlineNanos) {
        for (TcpLink link : links) {
            CompletableFuture<Void> acked = link.sendFence(lostToken);
            if (acked != null) {
                acked.whenComplete((v, e) -> {
                    if (e == null) {
                        done.complete(null);
                    } else {
                        fenceLater(lostToken, closedByPeer, done, deadlineNanos);
                    }
                });
                return;
            }
        }
        if (closedByPeer && refusedEverywhere()) {
            peersGone.increment();
            done.complete(null);
            return;
        }
        fenceLater(lostToken, closedByPeer, done, deadlineNanos);
    }

    private void fenceLater(long lostToken, boolean closedByPeer, CompletableFuture<Void> done, long deadlineNanos) {
        if (System.nanoTime() - deadlineNanos > 0) {
            done.completeExceptionally(new TransferException("the target did not confirm within "
                    + TimeUnit.NANOSECONDS.toMillis(fenceTimeoutNanos) + " ms that a lost connection's WRITEs can no "
                    + "longer land", false));
            return;
        }
        try {
            timers.schedule(() -> tryFence(lostToken, closedByPeer, done, deadlineNanos), FENCE_RETRY_MILLIS,
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            done.completeExceptionally(new TransferException("transport closed before a fence was confirmed", false, e));
        }
    }

    List<TcpLink> links() {
        return links;
    }

    /** Reconnects the links that are down and past their backoff; returns whether any link is up. */
    synchronized boolean reconnectDown() {
        attempted = true;
        long now = System.nanoTime();
        boolean up = false;
        for (TcpLink link : links) {
            if (!link.isUp() && link.mayReconnect(now, reconnectBackoffNanos)) {
                link.connect(connectTimeoutMillis);
            }
            up |= link.isUp();
        }
        return up;
    }

    /** Connects every link unless a connect was tried before (links that went down since wait for the prober). */
    synchronized void connectFirst() {
        if (!attempted) {
            connectAll();
        }
    }

    /** Connects every link now; returns how many are up. */
    synchronized int connectAll() {
        attempted = true;
        int up = 0;
        for (TcpLink link : links) {
            if (link.connect(connectTimeoutMillis)) {
                up++;
            }
        }
        return up;
    }

    void close() {
        links.forEach(TcpLink::close);
    }
}
