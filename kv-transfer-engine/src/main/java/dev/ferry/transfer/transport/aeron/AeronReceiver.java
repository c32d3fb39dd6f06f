package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.slice.Opcode;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.slice.UnsettledSliceException;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.SliceFrame;
import dev.ferry.transfer.transport.serve.Answers;
import dev.ferry.transfer.transport.serve.SliceServer;
import io.aeron.Aeron;
import io.aeron.Image;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.logbuffer.Header;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;

/**
 * The duty cycle that takes everything an {@link AeronTransport} receives: requests from
 * peers, served by the shared {@link SliceServer} (WRITE bodies streamed straight into the
 * segment, READs answered from it) and answered through the sender, and answers to the
 * slices this engine sent, matched through {@link OutstandingSlices} (READ data streamed
 * straight into the slice's buffer). Answers are queued for the sender, never offered here,
 * so a peer that does not drain its answers never stops receipt. It also fails the slices
 * that got no answer within the stall timeout and marks their links down (a WRITE's failure
 * carries the fence of the session it went on), and it serves fences: the requests of an
 * initiator's session fenced here ({@link FencedSessions}, FENCE_SESSION over Aeron, or from
 * TCP through {@link AeronTransport#sessionFences}) are dropped from then on.
 *
 * <p>Runs on one thread under an {@code AgentRunner}; not thread-safe otherwise.
 */
final class AeronReceiver implements Agent, Answers {
    /** Answers in flight between receiver and sender at most; with none free, an answer is dropped (counted). */
    static final int ANSWERS = 1024;
    private static final int FRAGMENTS_PER_POLL = 64;

    private final Subscription subscription;
    private final Subscription ipcSubscription;
    private final Aeron aeron;
    private final SliceServer server;
    private final OutstandingSlices outstanding;
    private final SliceListener listener;
    private final AeronCounters counters;
    private final AeronTransport transport;
    private final long stallNanos;
    private final OneToOneConcurrentArrayQueue<PendingAnswer> ready;
    private final OneToOneConcurrentArrayQueue<PendingAnswer> free;
    private final Queue<Image> goneImages;
    private final Int2ObjectHashMap<InboundMessage> inbound = new Int2ObjectHashMap<>();
    private final Int2ObjectHashMap<InboundMessage> ipcInbound = new Int2ObjectHashMap<>();
    private final Map<String, AnswerChannel> answerChannels = new HashMap<>();
    private final FragmentHandler udpHandler = (buffer, offset, length, header) ->
            onFragment(inbound, buffer, offset, length, header);
    private final FragmentHandler ipcHandler = (buffer, offset, length, header) ->
            onFragment(ipcInbound, buffer, offset, length, header);
    private final CRC32C readCrc = new CRC32C();
    private final FencedSessions fenced = new FencedSessions();
    private final Queue<LocalFence> localFences;

    /**
     * A fence asked for on another path (a FENCE_SESSION served over TCP): applied on the
     * receiver's thread, where requests are taken, so that {@code done} completes only once no
     * request of the session can reach a segment.
     */
    record LocalFence(int session, String reply, java.util.concurrent.CompletableFuture<Void> done) {
    }
    private AnswerChannel answeringOn;
    private long nextStallCheck;

    AeronReceiver(AeronTransport transport, Subscription subscription, Subscription ipcSubscription, Aeron aeron,
                  SliceServer server, OutstandingSlices outstanding, SliceListener listener, AeronCounters counters,
                  long stallNanos, OneToOneConcurrentArrayQueue<PendingAnswer> ready,
                  OneToOneConcurrentArrayQueue<PendingAnswer> free, Queue<Image> goneImages,
                  Queue<LocalFence> localFences) {
        this.localFences = localFences;
        this.transport = transport;
        this.subscription = subscription;
        this.ipcSubscription = ipcSubscription;
        this.aeron = aeron;
        this.server = server;
        this.outstanding = outstanding;
        this.listener = listener;
        this.counters = counters;
        this.stallNanos = stallNanos;
        this.ready = ready;
        this.free = free;
        this.goneImages = goneImages;
        this.nextStallCheck = System.nanoTime() + stallNanos / 4;
    }

    @Override
    public String roleName() {
        return "ferry-aeron-receiver";
    }

    @Override
    public int doWork() {
        int work = subscription.poll(udpHandler, FRAGMENTS_PER_POLL)
                + (ipcSubscription == null ? 0 : ipcSubscription.poll(ipcHandler, FRAGMENTS_PER_POLL));
        forgetGoneImages();
        LocalFence local;
        while ((local = localFences.poll()) != null) {
            fence(local.session(), local.reply());
            local.done().complete(null);
            work++;
        }
        long now = System.nanoTime();
        if (now - nextStallCheck >= 0) {
            nextStallCheck = now + stallNanos / 4;
            work += checkStalls(now);
        }
        return work;
    }

    /** Drops the messages in progress of images that went away, so that peers coming and going leave nothing. */
    private void forgetGoneImages() {
        Image image;
        while ((image = goneImages.poll()) != null) {
            (image.subscription() == ipcSubscription ? ipcInbound : inbound).remove(image.sessionId());
        }
    }

    /** One fragment from an image of a subscription whose messages in progress are {@code inbound}. */
    private void onFragment(Int2ObjectHashMap<InboundMessage> inbound, DirectBuffer buffer, int offset, int length,
                            Header aeronHeader) {
        int session = aeronHeader.sessionId();
        InboundMessage in = inbound.get(session);
        if (in == null) {
            in = new InboundMessage();
            inbound.put(session, in);
        }
        byte flags = aeronHeader.flags();
        if ((flags & FrameDescriptor.BEGIN_FRAG_FLAG) != 0) {
            int bodyAt = in.begin(buffer, offset, length);
            if (bodyAt < 0) {
                counters.malformedMessages.increment();
                return;
            }
            if (in.isRequest()) {
                if (!in.sameReplyAsBefore(buffer, offset) || in.replyTo.failed) {
                    in.replyTo = answerChannel(in.rememberReply(buffer, offset));
                }
                if (in.header.type() != SliceFrame.FENCE_SESSION) {
                    if (fenced.holds(session, in.replyTo.reply)) {
                        counters.fencedMessages.increment(); // its initiator gave it up: it must not land
                        in.end();
                        return;
                    }
                    MemorySegment destination = server.begin(in.request, in.header);
                    if (destination != null) {
                        in.receiveInto(destination);
                    }
                }
            } else {
                answerHead(in);
            }
            in.append(buffer, bodyAt, offset + length - bodyAt);
        } else if (in.active()) {
            in.append(buffer, offset, length);
        }
        if ((flags & FrameDescriptor.END_FRAG_FLAG) != 0 && in.active()) {
            in.end();
            if (in.isRequest() && in.header.type() == SliceFrame.FENCE_SESSION) {
                serveFence(in);
            } else if (in.isRequest()) {
                serve(in);
            } else {
                answer(in);
            }
        }
    }

    /**
     * The channel that answers to {@code reply} go on ({@code HOST:PORT} over UDP,
     * {@code ipc:STREAM}), made once; its publication is asked of the media driver without
     * waiting, so a new peer never holds up receipt.
     */
    private AnswerChannel answerChannel(String reply) {
        AnswerChannel channel = answerChannels.get(reply);
        if (channel == null || channel.failed) {
            long registration = reply.startsWith(AeronTransport.IPC_REPLY)
                    ? aeron.asyncAddPublication(AeronTransport.IPC_CHANNEL, Integer.parseInt(reply.substring(
                            AeronTransport.IPC_REPLY.length())))
                    : aeron.asyncAddPublication("aeron:udp?endpoint=" + reply + AeronTransport.PUBLICATION_PARAMS,
                            AeronTransport.STREAM_ID);
            channel = new AnswerChannel(reply, registration);
            answerChannels.put(reply, channel);
        }
        return channel;
    }

    /** A request is in whole: the shared core serves it and answers through this receiver's queue. */
    private void serve(InboundMessage in) {
        answeringOn = in.replyTo;
        if (!in.complete()) {
            server.malformed(in.request, "message of the wrong length", this);
        } else {
            server.finish(in.request, in.crc(), in.header.crc(), this);
        }
    }

    /**
     * A FENCE_SESSION: the session it names is fenced here, on the thread that takes requests,
     * so its answer, queued after, goes out once no request of that session can land.
     */
    private void serveFence(InboundMessage in) {
        FrameHeader header = in.header;
        fence((int) header.offset(), header.name());
        answeringOn = in.replyTo;
        ack(SliceFrame.FENCE_SESSION_ACK, header.sliceId(), header.offset());
    }

    /** Fences a session: its request in progress, if any, is dropped, and every later one. */
    private void fence(int session, String reply) {
        if (fenced.fence(session, reply)) {
            counters.fencesServed.increment();
        }
        dropInProgress(inbound.get(session), reply);
        dropInProgress(ipcInbound.get(session), reply);
    }

    private void dropInProgress(InboundMessage in, String reply) {
        if (in != null && in.active() && in.isRequest() && in.replyTo != null && in.replyTo.reply.equals(reply)) {
            counters.fencedMessages.increment();
            in.end();
        }
    }

    @Override
    public void ack(byte ackType, long sliceId, long offset) {
        PendingAnswer answer = takeAnswer();
        if (answer != null) {
            answer.message = answer.head.write(ackType, sliceId, offset, 0, 0, SliceFrame.Status.OK, null);
            queue(answer);
        }
    }

    @Override
    public void data(long sliceId, long offset, MemorySegment bytes, boolean trailer) {
        PendingAnswer answer = takeAnswer();
        if (answer != null) {
            answer.payload = bytes;
            AeronTransport.wrap(answer.payloadView, bytes);
            answer.message = answer.head.write(SliceFrame.READ_DATA, sliceId, offset, (int) bytes.byteSize(),
                    SliceFrame.crc(readCrc, bytes.asByteBuffer()), SliceFrame.Status.OK, null);
            queue(answer);
        }
    }

    @Override
    public void refuse(byte requestType, long sliceId, long offset, SliceFrame.Status status, String why) {
        PendingAnswer answer = takeAnswer();
        if (answer != null) {
            answer.message = answer.head.writeError(requestType, sliceId, offset, status, why);
            queue(answer);
        }
    }

    private PendingAnswer takeAnswer() {
        PendingAnswer answer = free.poll();
        if (answer == null) {
            counters.answersDropped.increment(); // the sender holds every answer: the initiator will resend
        }
        return answer;
    }

    private void queue(PendingAnswer answer) {
        answer.channel = answeringOn;
        answer.queuedNanos = System.nanoTime();
        ready.offer(answer); // never full: it holds at most the answers in circulation
        transport.wakeSender();
    }

    /** An answer's head is in: a READ's payload goes straight into the slice's local bytes. */
    private void answerHead(InboundMessage in) {
        FrameHeader header = in.header;
        if (header.status() != SliceFrame.Status.OK) {
            in.receiveIntoScratch();
            return;
        }
        if (header.type() == SliceFrame.READ_DATA) {
            OutstandingSlices.Entry entry = outstanding.find(header.sliceId());
            Slice slice = entry == null ? null : entry.slice();
            if (slice != null && slice.length() == header.bodyLength() && !slice.owner().isDone()) {
                in.readSlice = slice;
                in.receiveInto(slice.localBytes());
            }
        }
    }

    /** An answer is in whole: completes or fails its slice. */
    private void answer(InboundMessage in) {
        FrameHeader header = in.header;
        long key = header.sliceId();
        if (header.type() == SliceFrame.FENCE_SESSION_ACK) {
            transport.fenceAcked(key);
            return;
        }
        OutstandingSlices.Entry entry = outstanding.find(key);
        Slice slice = entry == null ? null : entry.slice();
        AeronLink link = entry == null ? null : entry.link();
        if (slice == null || !outstanding.take(entry, key)) {
            counters.lateAnswers.increment(); // the slice failed here already (stalled)
            return;
        }
        if (slice.owner() instanceof AeronProbe probe) {
            probe.answered(); // any answer, a refusal too: the peer's serving core takes requests again
            return;
        }
        link.inFlight.addAndGet(-slice.length());
        SliceFrame.Status status = header.status();
        if (status != SliceFrame.Status.OK) {
            link.estimator.onFailed();
            listener.onFailed(slice, link, new TransferException(status + " from " + link.name + ": "
                    + new String(in.scratchBytes(), StandardCharsets.UTF_8), status.retryable()));
            return;
        }
        if (header.type() == SliceFrame.READ_DATA && (in.readSlice != slice || !in.complete() || !in.kept()
                || in.crc() != header.crc())) {
            if (!slice.owner().isDone()) {
                link.estimator.onFailed(); // an answer dropped because its request gave up is not the link's fault
            }
            listener.onFailed(slice, link, new TransferException("READ payload from " + link.name
                    + " failed its CRC32C or length", true));
            return;
        }
        link.estimator.onCompleted(slice.length(), slice.sentNanos(), System.nanoTime());
        listener.onCompleted(slice, link);
    }

    /**
     * Fails every slice outstanding for longer than the stall timeout and marks its link down:
     * the link takes no slices until it is readmitted. Runs here, where READ answers are
     * streamed into slices: a slice is never failed (and its buffer handed back) while its
     * answer is being written into it.
     *
     * @return how many slices stalled
     */
    private int checkStalls(long now) {
        int stalled = 0;
        for (int i = 0; i < OutstandingSlices.CAPACITY; i++) {
            OutstandingSlices.Entry entry = outstanding.at(i);
            long key = entry.key();
            if (key == 0) {
                continue;
            }
            Slice slice = entry.slice();
            AeronLink link = entry.link();
            int session = entry.session();
            if (slice == null || link == null || now - slice.sentNanos() <= stallNanos
                    || !outstanding.take(entry, key)) {
                continue;
            }
            if (slice.owner() instanceof AeronProbe probe) {
                probe.failed(now); // its link stays quarantined
                continue;
            }
            stalled++;
            counters.stalledSlices.increment();
            link.inFlight.addAndGet(-slice.length());
            link.estimator.onFailed();
            link.sessionLost = true; // first: the prober, seeing the link down, renews its session before it probes
            if (link.markDown()) {
                counters.linksMarkedDown.increment();
            }
            String why = link.name + " gave no answer for " + TimeUnit.NANOSECONDS.toMillis(stallNanos) + " ms";
            // A WRITE's message may still be on its way (closing the publication does not stop its driver
            // from sending what it holds): it is resent only once the target has fenced its session.
            listener.onFailed(slice, link, slice.opcode() == Opcode.WRITE
                    ? new UnsettledSliceException(why, true, link.lost(session))
                    : new TransferException(why, true));
        }
        return stalled;
    }
}
