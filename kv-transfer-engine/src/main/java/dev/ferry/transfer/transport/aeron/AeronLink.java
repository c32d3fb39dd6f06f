package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.LinkEstimator;
import dev.ferry.transfer.transport.LinkState;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.aeron.Publication;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One Aeron publication to a peer's subscription, used as a link. {@link #send} only queues
 * the slice: the transport's sender agent is the one writer of the publication, and offers
 * the queued slices in order without ever holding a caller across back pressure. Answers
 * arrive on the transport's subscription.
 *
 * <p>The publication is added on the first connect ({@link AeronTransport#connect}), never
 * on a caller's thread. A link is marked down (quarantined) when one of its slices stalls or
 * its offer fails; it takes no slices until a probe ({@link AeronProbe}) is answered. Probes
 * wait longer after each one that fails: {@code base * 2^(n-1)} after {@code n} failures in
 * a row, at most 32 times {@code base} (exponential backoff, as TCP links reconnect).
 *
 * <p>Thread-safe: {@link #send} from any thread.
 */
final class AeronLink implements Link {
    /** Slices queued per link at most; the spray policy's window keeps far fewer there. */
    static final int QUEUE_CAPACITY = 4096;

    final String name;
    final String channel;
    final int streamId;
    final byte[] replyTo;
    final LinkEstimator estimator = new LinkEstimator();
    final AtomicLong inFlight = new AtomicLong();
    final ManyToOneConcurrentArrayQueue<Slice> queue = new ManyToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    /** FENCE_SESSIONs for the sender to offer, even while the link is down. */
    final ManyToOneConcurrentArrayQueue<OutgoingFence> fences = new ManyToOneConcurrentArrayQueue<>(256);
    /** The peer this link goes to (its links are fenced through one another). */
    final AeronPeer peer;
    /** {@link #replyTo} as text: what the peer records a fenced session of this link under. */
    final String reply;
    /**
     * A slice stalled on the current publication: the prober replaces it with a new one (a new
     * session) before it probes, so that the stalled session can be fenced over the new one.
     */
    volatile boolean sessionLost;
    /** The lost session whose fence the stalled slices share (the receiver's). */
    private LostSession lastLost;
    private final AeronTransport transport;
    private final SliceListener listener;
    volatile Publication publication;
    /** {@link System#nanoTime()} when {@link #publication} was added. */
    volatile long publishedNanos;
    volatile boolean down;
    /** The segment the link last carried a slice for: what a probe reads a byte of. */
    volatile String probeSegment;
    /** The probe in flight, or null. */
    volatile AeronProbe probe;
    /** A probe for the sender to offer although the link is down, or null. */
    volatile AeronProbe probeToSend;
    private volatile int probeFailures;
    private volatile long lastProbeFailureNanos;

    // The sender agent's alone: the message head, the payload view, the slice at the head of
    // the queue while back pressure holds it, and the segment name last sent.
    final MessageHead head;
    final UnsafeBuffer payload = new UnsafeBuffer(0, 0);
    OutstandingSlices.Entry current;
    long currentKey;
    boolean currentCounted;
    private String lastTarget = "";
    private byte[] lastTargetBytes = new byte[0];

    AeronLink(AeronTransport transport, SliceListener listener, AeronPeer peer, String name, String channel,
              int streamId, byte[] replyTo) {
        this.peer = peer;
        this.reply = new String(replyTo, java.nio.charset.StandardCharsets.US_ASCII);
        this.transport = transport;
        this.listener = listener;
        this.name = name;
        this.channel = channel;
        this.streamId = streamId;
        this.replyTo = replyTo;
        this.head = new MessageHead(replyTo);
    }

    /** The frame bytes of a segment name; the last one is reused. Sender only. */
    byte[] name(String target) {
        if (!target.equals(lastTarget)) {
            lastTargetBytes = SliceFrame.name(target);
            lastTarget = target;
        }
        return lastTargetBytes;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean isUp() {
        Publication p = publication;
        return !down && p != null && p.isConnected();
    }

    @Override
    public LinkState state() {
        return isUp() ? LinkState.UP : probe != null ? LinkState.PROBING : LinkState.QUARANTINED;
    }

    @Override
    public long inFlightBytes() {
        return inFlight.get();
    }

    @Override
    public LinkEstimator estimator() {
        return estimator;
    }

    /** Queues the slice for the sender agent; a link that is down, or whose queue is full, fails it (retryable). */
    @Override
    public void send(Slice slice) {
        if (!isUp()) {
            listener.onFailed(slice, this, new TransferException("link " + name + " is down", true));
            return;
        }
        String segment = slice.target();
        if (probeSegment != segment) {
            probeSegment = segment;
        }
        inFlight.addAndGet(slice.length());
        if (!queue.offer(slice)) {
            inFlight.addAndGet(-slice.length());
            listener.onFailed(slice, this, new TransferException("link " + name + " has "
                    + QUEUE_CAPACITY + " slices queued", true));
            return;
        }
        transport.wakeSender();
    }

    /** Marks the link down; returns whether it was up before (so that the caller counts it once). */
    boolean markDown() {
        if (down) {
            return false;
        }
        down = true;
        return true;
    }

    /**
     * The fence of {@code session}, shared by every slice that stalled on it (one FENCE_SESSION
     * however many wait). Receiver only.
     */
    Supplier<CompletableFuture<Void>> lost(int session) {
        LostSession last = lastLost;
        if (last == null || last.session != session) {
            last = new LostSession(session);
            lastLost = last;
        }
        return last;
    }

    /** The fence of one lost session of this link, asked for once. */
    private final class LostSession implements Supplier<CompletableFuture<Void>> {
        private final int session;
        private CompletableFuture<Void> fence;

        LostSession(int session) {
            this.session = session;
        }

        @Override
        public synchronized CompletableFuture<Void> get() {
            if (fence == null) {
                fence = transport.fence(AeronLink.this, session);
            }
            return fence;
        }
    }

    /** A probe was answered: the link takes slices again. */
    void readmit() {
        probeFailures = 0;
        probe = null;
        down = false;
    }

    /** A probe got no answer: the link stays quarantined, and the next probe waits longer. */
    void probeFailed(long nowNanos) {
        lastProbeFailureNanos = nowNanos;
        probeFailures++;
        probe = null;
    }

    /** Whether a probe may go out now: none in flight, and past the backoff of the failures before. */
    boolean mayProbe(long nowNanos, long baseBackoffNanos) {
        int n = probeFailures;
        long backoff = n == 0 ? 0 : baseBackoffNanos << Math.min(n - 1, 5);
        return probe == null && (n == 0 || nowNanos - lastProbeFailureNanos >= backoff);
    }
}
