package dev.ferry.transfer.spray;

import dev.ferry.transfer.slice.LinkId;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.transport.Link;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;

/**
 * The slices waiting for one peer's links, handed out as links have room. A slice goes out
 * when the {@link SprayPolicy} finds a link for it; a pacing policy returns none while every
 * link has its window in flight, and the queue then waits for a completion
 * ({@link #drain()} again). Links that finish sooner thus ask for more: within one large
 * request, slices flow to links in proportion to what each delivers.
 *
 * <p>Slices wait in one queue per priority; a higher priority's slices always leave first.
 *
 * <p>When no link is up at all, a reconnect runs on the healer executor (never on an I/O
 * thread); if it brings no link up, every waiting slice fails.
 *
 * <p>Thread-safe and lock-free: {@link #drain()} may be called from any thread, and one
 * thread at a time hands out slices (a work-in-progress counter serialises the drains,
 * as in RxJava's operators).
 */
public final class SliceDispatcher {
    private final List<? extends Link> links;
    private final SprayPolicy policy;
    private final Executor healer;
    private final BooleanSupplier reconnect;
    private final BiConsumer<Slice, TransferException> fail;
    /** One queue per priority level, highest first. */
    private final ConcurrentLinkedDeque<Slice>[] waiting = newQueues(3);
    private final AtomicInteger wip = new AtomicInteger();
    private final AtomicBoolean reconnecting = new AtomicBoolean();

    /**
     * @param links     the peer's links
     * @param policy    link choice and pacing
     * @param healer    runs reconnects (may block)
     * @param reconnect reconnects the links that are down; returns whether any link is up
     * @param fail      fails the request of a slice that cannot be sent
     */
    public SliceDispatcher(List<? extends Link> links, SprayPolicy policy, Executor healer, BooleanSupplier reconnect,
                           BiConsumer<Slice, TransferException> fail) {
        this.links = links;
        this.policy = policy;
        this.healer = healer;
        this.reconnect = reconnect;
        this.fail = fail;
    }

    @SuppressWarnings("unchecked")
    private static ConcurrentLinkedDeque<Slice>[] newQueues(int n) {
        ConcurrentLinkedDeque<Slice>[] queues = new ConcurrentLinkedDeque[n];
        for (int i = 0; i < n; i++) {
            queues[i] = new ConcurrentLinkedDeque<>();
        }
        return queues;
    }

    /** The links this dispatcher sprays over. */
    public List<? extends Link> links() {
        return links;
    }

    /** Queues a new slice and sends what can be sent. */
    public void enqueue(Slice slice) {
        waiting[slice.priority()].addLast(slice);
        drain();
    }

    /** Queues a failed slice first in line, to be sent on another link than {@code failedOn} if one is up. */
    public void retry(Slice slice, Link failedOn) {
        slice.avoid(failedOn);
        waiting[slice.priority()].addFirst(slice);
        drain();
    }

    /** Sends waiting slices while the policy finds links for them. Call after every completion. */
    public void drain() {
        if (wip.getAndIncrement() != 0) {
            return;
        }
        int missed = 1;
        do {
            drainOnce();
            missed = wip.addAndGet(-missed);
        } while (missed != 0);
    }

    private ConcurrentLinkedDeque<Slice> firstNonEmpty() {
        for (ConcurrentLinkedDeque<Slice> queue : waiting) {
            if (!queue.isEmpty()) {
                return queue;
            }
        }
        return null;
    }

    private void drainOnce() {
        ConcurrentLinkedDeque<Slice> queue;
        while ((queue = firstNonEmpty()) != null) {
            Slice slice = queue.peekFirst();
            if (slice == null) {
                continue;
            }
            if (slice.owner().isDone()) {
                queue.pollFirst();
                continue;
            }
            Link link = policy.select(links, slice.length(), failedOn(slice));
            if (link == null) {
                if (noneUp()) {
                    scheduleReconnect();
                }
                return;
            }
            queue.pollFirst();
            if (slice.owner().sending()) {
                link.send(slice);
            }
        }
    }

    /** The link of this dispatcher that {@code slice} last failed on, or null. */
    private Link failedOn(Slice slice) {
        LinkId avoid = slice.avoid();
        if (avoid == null) {
            return null;
        }
        for (int i = 0, n = links.size(); i < n; i++) {
            if (links.get(i) == avoid) {
                return links.get(i);
            }
        }
        return null; // it failed on another peer's links (a transport failover): any of ours will do
    }

    private boolean noneUp() {
        for (int i = 0, n = links.size(); i < n; i++) {
            if (links.get(i).isUp()) {
                return false;
            }
        }
        return true;
    }

    /** The reason a link gave for being down, else the usual ones. */
    private String downReason() {
        for (int i = 0, n = links.size(); i < n; i++) {
            String why = links.get(i).downReason();
            if (why != null) {
                return why;
            }
        }
        return "connect refused or timed out";
    }

    private void scheduleReconnect() {
        if (!reconnecting.compareAndSet(false, true)) {
            return;
        }
        healer.execute(() -> {
            boolean up;
            try {
                up = reconnect.getAsBoolean();
            } finally {
                reconnecting.set(false);
            }
            if (up) {
                drain();
                return;
            }
            TransferException cause = new TransferException("no link to the peer is up (" + downReason() + ")", false);
            for (ConcurrentLinkedDeque<Slice> queue : waiting) {
                Slice slice;
                while ((slice = queue.pollFirst()) != null) {
                    fail.accept(slice, cause);
                }
            }
        });
    }
}
