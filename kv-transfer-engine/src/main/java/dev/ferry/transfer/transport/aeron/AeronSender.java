package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.slice.Opcode;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.aeron.Aeron;
import io.aeron.Publication;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The duty cycle that writes every publication of an {@link AeronTransport}: the slices
 * queued on its links, and the answers its receiver chose. Being the one writer, it never
 * waits on back pressure: an offer that is back-pressured stays first in its queue and is
 * offered again on the next cycle, while other links and answer channels go on. A slice
 * whose offer fails, or stays back-pressured for the stall timeout, fails (retryable) and
 * marks its link down; an answer that cannot go out within the stall timeout is dropped
 * (the initiator's stall check resends its request). Slices on a link that is down fail
 * from the queue.
 *
 * <p>Runs on one thread under an {@code AgentRunner}; not thread-safe otherwise. Other
 * threads hand it work through the links' queues and the answer queue, and wake it
 * ({@link AeronTransport#wakeSender}).
 */
final class AeronSender implements Agent {
    /** Slices offered per link per duty cycle at most, so that one busy link cannot starve the others. */
    private static final int BURST = 16;

    private final Aeron aeron;
    private final OutstandingSlices outstanding;
    private final SliceListener listener;
    private final AeronCounters counters;
    private final long offerTimeoutNanos;
    private final OneToOneConcurrentArrayQueue<PendingAnswer> ready;
    private final OneToOneConcurrentArrayQueue<PendingAnswer> free;
    private final ArrayList<AnswerChannel> channels = new ArrayList<>();
    private volatile AeronLink[] links = new AeronLink[0];
    private boolean backPressured;

    /**
     * @param ready answers from the receiver, to offer
     * @param free  where offered (or dropped) answers go back to the receiver
     */
    AeronSender(Aeron aeron, OutstandingSlices outstanding, SliceListener listener, AeronCounters counters,
                long offerTimeoutNanos, OneToOneConcurrentArrayQueue<PendingAnswer> ready,
                OneToOneConcurrentArrayQueue<PendingAnswer> free) {
        this.aeron = aeron;
        this.outstanding = outstanding;
        this.listener = listener;
        this.counters = counters;
        this.offerTimeoutNanos = offerTimeoutNanos;
        this.ready = ready;
        this.free = free;
    }

    /** Adds links to serve (copy on write: links are few, and added once per peer). Any thread. */
    synchronized void add(Iterable<AeronLink> added) {
        ArrayList<AeronLink> all = new ArrayList<>(java.util.List.of(links));
        added.forEach(all::add);
        links = all.toArray(AeronLink[]::new);
    }

    @Override
    public String roleName() {
        return "ferry-aeron-sender";
    }

    /** Whether the last duty cycle left an offer back-pressured (its idle strategy then retries soon). */
    boolean backPressured() {
        return backPressured;
    }

    @Override
    public int doWork() {
        backPressured = false;
        int work = 0;
        for (AeronLink link : links) {
            work += sendQueued(link);
        }
        work += takeAnswers();
        for (int i = 0, n = channels.size(); i < n; i++) {
            work += sendAnswers(channels.get(i));
        }
        return work;
    }

    private int sendQueued(AeronLink link) {
        Publication publication = link.publication;
        int fenced = link.fences.isEmpty() ? 0 : sendFences(publication, link);
        if (link.down || publication == null) {
            int failed = fenced + (link.current == null && link.queue.isEmpty() ? 0 : failQueued(link));
            AeronProbe probe = link.probeToSend;
            if (probe != null && publication != null) {
                link.probeToSend = null;
                sendProbe(publication, link, probe);
                failed++;
            }
            return failed;
        }
        int sent = fenced;
        Slice slice;
        while (sent < BURST && (slice = link.queue.peek()) != null) {
            long now = System.nanoTime();
            if (link.current == null) {
                OutstandingSlices.Entry entry = outstanding.claim();
                if (entry == null) {
                    backPressured = true; // as many slices in flight as the table holds: wait for answers
                    break;
                }
                slice.markSent(now); // before arming: the receiver's stall check reads it
                link.current = entry;
                link.currentKey = outstanding.arm(entry, slice, link, publication.sessionId());
                link.currentCounted = false;
            } else if (link.current.key() != link.currentKey) {
                // It stalled while back pressure held it here: the receiver failed it, and it went elsewhere.
                link.queue.poll();
                link.current = null;
                continue;
            }
            long result = offer(publication, link, slice, link.currentKey);
            if (result > 0) {
                link.queue.poll();
                link.current = null;
                sent++;
                continue;
            }
            if ((result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION)
                    && now - slice.sentNanos() < offerTimeoutNanos) {
                if (!link.currentCounted) {
                    counters.sendsBackPressured.increment();
                    link.currentCounted = true;
                }
                backPressured = true;
                break;
            }
            link.queue.poll();
            OutstandingSlices.Entry entry = link.current;
            long key = link.currentKey;
            link.current = null;
            String why = result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION
                    ? "back-pressured for longer than " + TimeUnit.NANOSECONDS.toMillis(offerTimeoutNanos) + " ms"
                    : "publication not connected (" + result + ")";
            if (outstanding.take(entry, key)) {
                counters.sendsFailed.increment();
                link.inFlight.addAndGet(-slice.length());
                link.estimator.onFailed();
                if (link.markDown()) {
                    counters.linksMarkedDown.increment();
                }
                listener.onFailed(slice, link, new TransferException(link.name + ": " + why, true));
            }
            return sent + 1;
        }
        return sent;
    }

    /** Offers a probe on a quarantined link; one that cannot go out at once fails (the next waits its backoff). */
    private void sendProbe(Publication publication, AeronLink link, AeronProbe probe) {
        long now = System.nanoTime();
        OutstandingSlices.Entry entry = outstanding.claim();
        if (entry == null) {
            probe.failed(now);
            return;
        }
        probe.slice.markSent(now);
        long key = outstanding.arm(entry, probe.slice, link, publication.sessionId());
        if (offer(publication, link, probe.slice, key) <= 0 && outstanding.take(entry, key)) {
            probe.failed(now);
        }
    }

    /**
     * Offers the FENCE_SESSIONs queued on a link, down or not (a fence goes out on whatever
     * session of the peer is connected); one that cannot go out at once fails, and its fencer
     * tries again.
     */
    private int sendFences(Publication publication, AeronLink link) {
        int sent = 0;
        OutgoingFence fence;
        while ((fence = link.fences.poll()) != null) {
            long result = Publication.NOT_CONNECTED;
            if (publication != null && publication.sessionId() != fence.session()) {
                DirectBuffer head = link.head.write(SliceFrame.FENCE_SESSION, fence.id(), fence.session(), 0, 0,
                        SliceFrame.Status.OK, SliceFrame.name(fence.reply()));
                result = publication.offer(head, 0, head.capacity());
            }
            if (result <= 0) {
                fence.acked().completeExceptionally(new TransferException("FENCE_SESSION not offered on " + link.name
                        + " (" + result + ")", true));
            }
            sent++;
        }
        return sent;
    }

    /** Fails the slices queued on a link that is down, so that they go to another link. */
    private int failQueued(AeronLink link) {
        String why = "link " + link.name + " is down";
        int failed = 0;
        if (link.current != null) {
            OutstandingSlices.Entry entry = link.current;
            long key = link.currentKey;
            link.current = null;
            Slice slice = entry.slice();
            if (slice != null && outstanding.take(entry, key)) {
                link.queue.poll();
                link.inFlight.addAndGet(-slice.length());
                listener.onFailed(slice, link, new TransferException(why, true));
                failed++;
            } else {
                link.queue.poll(); // stalled already: its outcome was reported
            }
        }
        Slice slice;
        while ((slice = link.queue.poll()) != null) {
            link.inFlight.addAndGet(-slice.length());
            listener.onFailed(slice, link, new TransferException(why, true));
            failed++;
        }
        return failed;
    }

    private static long offer(Publication publication, AeronLink link, Slice slice, long key) {
        byte type = switch (slice.opcode()) {
            case WRITE -> SliceFrame.WRITE;
            case READ -> SliceFrame.READ;
            case NOTIFY -> SliceFrame.NOTIFY;
        };
        UnsafeBuffer payload = null;
        int crc = 0;
        if (slice.opcode() != Opcode.READ) {
            crc = slice.payloadCrc();
            long address = slice.localAddress();
            if (address != 0) {
                link.payload.wrap(address, slice.length()); // no segment made per offer
                payload = link.payload;
            } else {
                payload = AeronTransport.wrap(link.payload, slice.localBytes());
            }
        }
        DirectBuffer head = link.head.write(type, key, slice.targetOffset(), slice.length(), crc,
                SliceFrame.Status.OK, link.name(slice.target()));
        return payload == null ? publication.offer(head, 0, head.capacity())
                : publication.offer(head, 0, head.capacity(), payload, 0, payload.capacity(), null);
    }

    /** Moves the answers the receiver queued onto their channels. */
    private int takeAnswers() {
        int taken = 0;
        PendingAnswer answer;
        while ((answer = ready.poll()) != null) {
            AnswerChannel channel = answer.channel;
            if (!channel.registered) {
                channel.registered = true;
                channels.add(channel);
            }
            channel.queue.addLast(answer);
            taken++;
        }
        return taken;
    }

    private int sendAnswers(AnswerChannel channel) {
        int sent = 0;
        PendingAnswer answer;
        Publication publication = channel.queue.isEmpty() ? null : channel.publication(aeron);
        while ((answer = channel.queue.peekFirst()) != null) {
            if (publication == null) {
                // The media driver is still making the publication (a new peer), or refused it.
                if (channel.failed || System.nanoTime() - answer.queuedNanos > offerTimeoutNanos) {
                    drop(channel);
                    continue;
                }
                backPressured = true;
                break;
            }
            if (answer.payload != null && !answer.payload.scope().isAlive()) {
                drop(channel); // its segment's memory was freed while it waited
                continue;
            }
            DirectBuffer message = answer.message;
            long result = answer.payload == null ? publication.offer(message, 0, message.capacity())
                    : publication.offer(message, 0, message.capacity(), answer.payloadView, 0,
                            answer.payloadView.capacity(), null);
            if (result > 0) {
                recycle(channel.queue.pollFirst());
                sent++;
                continue;
            }
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED
                    || System.nanoTime() - answer.queuedNanos > offerTimeoutNanos) {
                drop(channel);
                continue;
            }
            // Back-pressured, or not connected yet (the first answer to a new peer): next cycle.
            if (!answer.backPressureCounted && result != Publication.NOT_CONNECTED) {
                counters.answersBackPressured.increment();
                answer.backPressureCounted = true;
            }
            backPressured = true;
            break;
        }
        return sent;
    }

    private void drop(AnswerChannel channel) {
        counters.answersDropped.increment();
        recycle(channel.queue.pollFirst());
    }

    private void recycle(PendingAnswer answer) {
        answer.clear();
        free.offer(answer);
    }
}
