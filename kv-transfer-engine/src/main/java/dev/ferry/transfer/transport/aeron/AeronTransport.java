package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.segment.AeronIpc;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.HostIdentity;
import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.transport.NotificationListener;
import dev.ferry.transfer.transport.SessionFences;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.frame.SliceFrame;
import dev.ferry.transfer.transport.serve.SliceServer;
import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The Aeron UDP transport of one engine. It launches an embedded media driver (SHARED
 * threading, its own directory), subscribes on {@code aeron:udp?endpoint=HOST:PORT}, and
 * runs two Agrona agents, each on its own thread under an {@link AgentRunner} with one
 * {@link AeronErrors error handler}:
 * <ul>
 *   <li>the {@link AeronReceiver} ({@code ferry-aeron-receiver}) polls the subscription for
 *       requests (served by the shared {@link SliceServer} against this node's segments) and
 *       for answers (matched to the slices this engine sent, {@link OutstandingSlices}), and
 *       fails the slices that got no answer within the stall timeout, marking their links down;</li>
 *   <li>the {@link AeronSender} ({@code ferry-aeron-sender}) is the one writer of every
 *       publication: it offers the slices queued on the links and the answers the receiver
 *       queued, and never waits on back pressure, so a peer that does not drain its answers
 *       never stops receipt, and no caller is held across back pressure.</li>
 * </ul>
 * What goes wrong in the cycles is counted ({@link #counters()}), not logged per event.
 *
 * <p>Healing, as TCP links heal: a link whose slice stalls or whose offer fails is
 * quarantined (down); its waiting slices go to the peer's other links, or over to TCP when
 * none is up. A quarantined link is probed ({@link AeronProbe}: a one-byte READ that the
 * peer's serving core must answer) every {@value #PROBE_INTERVAL_MILLIS} ms past its
 * backoff ({@link #PROBE_BACKOFF_NANOS}, doubling after each unanswered probe, at most 32
 * times), and when a dispatcher finds none of a peer's links up ({@link #connect}); an
 * answered probe readmits it.
 *
 * <p>Fenced resends: each link's publication is exclusive, one Aeron session. A WRITE that
 * stalls may still be on its way (closing a publication does not stop its media driver from
 * sending what it holds), so it fails with the fence of its session ({@link #fence}): the
 * peer is asked, over another session or over TCP ({@link OtherPath}), to drop every request
 * of that session from then on, and the WRITE is resent only once it confirmed. A stalled link
 * gets a new session before it is probed. See docs/protocol.md, FENCE_SESSION.
 *
 * <p>Given the directory of a media driver that runs already ({@link MediaDrivers#launch}
 * in one process of the host, or Aeron's own driver), it shares that driver instead, and
 * also subscribes to a stream of its own on {@code aeron:ipc} ({@link #ipcAddress()}):
 * engines on the same driver, in this process or another, reach each other there, through
 * the driver's shared memory rather than sockets. Each such channel is one link, as each
 * UDP endpoint (interface and port) is.
 *
 * <p>A message is {@code [i32 reply-endpoint length][reply endpoint, ASCII][slice frame]}
 * (the frame as in {@link SliceFrame}, length field included); answers carry no reply
 * endpoint. The reply endpoint is {@code HOST:PORT} (UDP) or {@code ipc:STREAM}. A request's
 * slice id is the key of its entry in {@link OutstandingSlices}. Slices must fit one Aeron
 * message (an eighth of the term length: 2 MiB with the default 16 MiB terms; slices are at
 * most 1 MiB).
 *
 * <p>Links to a peer are made without connecting ({@link #links}, {@link #ipcLinks}); the
 * connect, which adds the publications and waits for them, runs in {@link #connect} on the
 * caller's healer thread, never inside a map's update.
 *
 * <p>Thread-safe. Owns the driver, the client and the agents: close it.
 */
public final class AeronTransport implements AutoCloseable {
    static final int STREAM_ID = 1001;
    /** Channel parameters of every UDP publication: the largest MTU Aeron takes. */
    static final String PUBLICATION_PARAMS = "|mtu=65504";
    /** The IPC channel of publications: the largest MTU, and terms as large as UDP's (16 MiB). */
    static final String IPC_CHANNEL = "aeron:ipc?mtu=65504|term-length=16m";
    /** Reply endpoints of requests that came over IPC start with this, then the stream id. */
    static final String IPC_REPLY = "ipc:";
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final SliceListener listener;
    private final MediaDriver driver;
    private final Aeron aeron;
    private final AeronIpc ipcAddress;
    private final Endpoint localEndpoint;
    private final byte[] replyTo;
    private final AeronErrors errors = new AeronErrors();
    private final AeronCounters counters;
    /** Links by peer: a list of UDP endpoints, or an {@link AeronIpc} address. */
    private final Map<AeronPeer, List<AeronLink>> peers = new ConcurrentHashMap<>();
    private final AeronSender sender;
    private final AgentRunner senderRunner;
    private final AgentRunner receiverRunner;
    private volatile boolean closed;
    private final long stallNanos;
    private final long fenceTimeoutNanos;
    private final long connectNanos;
    /** FENCE_SESSIONs served on other paths (TCP), for the receiver to apply. */
    private final Queue<AeronReceiver.LocalFence> localFences = new ConcurrentLinkedQueue<>();
    /** FENCE_SESSIONs sent and not answered yet, by the id their message carries. */
    private final Map<Long, CompletableFuture<Void>> pendingFences = new ConcurrentHashMap<>();
    private final AtomicLong fenceIds = new AtomicLong();
    /** The other path to each peer (its TCP links), where its lost sessions are fenced too. */
    private final Map<AeronPeer, OtherPath> otherPaths = new ConcurrentHashMap<>();
    /** Pause between tries of a fence while no path is up, ms. */
    static final long FENCE_RETRY_MILLIS = 50;
    private final ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ferry-aeron-probe");
        t.setDaemon(true);
        return t;
    });
    /** Probes of a quarantined link start this long after its first failed probe, doubling up to 32 times it. */
    static final long PROBE_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    /** How often quarantined links are looked at for a probe, ms. */
    static final long PROBE_INTERVAL_MILLIS = 250;

    /**
     * @param bindHost         address of the subscription (and of this node's replies)
     * @param stallTimeoutMillis a slice with no answer for this long fails (retryable) and
     *                           marks its link down; also the longest an offer stays
     *                           back-pressured, ms
     * @param connectTimeoutMillis how long a new publication may take to connect, ms; a lost
     *                           session's fence is tried for twice this plus the stall timeout
     * @param sharedDirectory  the directory of a media driver already running on this host,
     *                         shared with other engines, which are then reached over Aeron
     *                         IPC too; null launches an embedded driver of this engine's own
     * @throws IllegalStateException if the media driver or the subscription cannot start, or
     *                               no driver answers in {@code sharedDirectory}
     */
    public AeronTransport(LocalSegments segments, SliceListener listener, NotificationListener notifications,
                          String bindHost, long stallTimeoutMillis, long connectTimeoutMillis, String sharedDirectory) {
        this.listener = listener;
        this.connectNanos = TimeUnit.MILLISECONDS.toNanos(connectTimeoutMillis);
        // As TCP's: as long as a reconnect and a stalled answer may take, twice over.
        this.fenceTimeoutNanos = 2 * (connectNanos + TimeUnit.MILLISECONDS.toNanos(stallTimeoutMillis));
        this.stallNanos = TimeUnit.MILLISECONDS.toNanos(stallTimeoutMillis);
        this.driver = sharedDirectory != null ? null : MediaDrivers.launch(CommonContext.getAeronDirectoryName()
                + "-ferry-" + ProcessHandle.current().pid() + "-" + INSTANCES.incrementAndGet());
        String dir = sharedDirectory != null ? sharedDirectory : driver.aeronDirectoryName();
        Queue<Image> goneImages = new ConcurrentLinkedQueue<>();
        Aeron client = null;
        Subscription subscription;
        Subscription ipcSubscription;
        try {
            client = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir).errorHandler(errors));
            this.localEndpoint = new Endpoint(bindHost, freeUdpPort(bindHost));
            subscription = client.addSubscription("aeron:udp?endpoint=" + localEndpoint, STREAM_ID,
                    image -> { }, goneImages::add);
            if (sharedDirectory != null) {
                int stream = ThreadLocalRandom.current().nextInt(1 << 16, Integer.MAX_VALUE);
                ipcSubscription = client.addSubscription(IPC_CHANNEL, stream, image -> { }, goneImages::add);
                this.ipcAddress = new AeronIpc(HostIdentity.id() + ":" + Path.of(dir).toAbsolutePath().normalize(),
                        stream);
            } else {
                ipcSubscription = null;
                this.ipcAddress = null;
            }
        } catch (RuntimeException e) {
            CloseHelper.quietClose(client);
            CloseHelper.quietClose(driver);
            throw new IllegalStateException("cannot start the Aeron transport on " + bindHost
                    + (sharedDirectory != null ? " with the media driver in " + sharedDirectory : "") + ": "
                    + e.getMessage(), e);
        }
        this.aeron = client;
        this.replyTo = localEndpoint.toString().getBytes(StandardCharsets.US_ASCII);
        SliceServer server = new SliceServer(segments, notifications);
        this.counters = new AeronCounters(server.counters(), errors);
        OutstandingSlices outstanding = new OutstandingSlices();
        OneToOneConcurrentArrayQueue<PendingAnswer> ready = new OneToOneConcurrentArrayQueue<>(AeronReceiver.ANSWERS);
        OneToOneConcurrentArrayQueue<PendingAnswer> free = new OneToOneConcurrentArrayQueue<>(AeronReceiver.ANSWERS);
        for (int i = 0; i < AeronReceiver.ANSWERS; i++) {
            free.offer(new PendingAnswer());
        }
        this.sender = new AeronSender(client, outstanding, listener, counters, stallNanos, ready, free);
        AeronReceiver receiver = new AeronReceiver(this, subscription, ipcSubscription, client, server, outstanding,
                listener, counters, stallNanos, ready, free, goneImages, localFences);
        this.senderRunner = new AgentRunner(new SenderIdleStrategy(sender), errors, null, sender);
        this.receiverRunner = new AgentRunner(new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1),
                TimeUnit.MILLISECONDS.toNanos(1)), errors, null, receiver);
        AgentRunner.startOnThread(receiverRunner, AeronTransport::daemon);
        AgentRunner.startOnThread(senderRunner, AeronTransport::daemon);
        prober.scheduleWithFixedDelay(this::probeQuarantined, PROBE_INTERVAL_MILLIS, PROBE_INTERVAL_MILLIS,
                TimeUnit.MILLISECONDS);
    }

    private static Thread daemon(Runnable runnable) {
        Thread thread = new Thread(runnable);
        thread.setDaemon(true);
        return thread;
    }

    private static int freeUdpPort(String host) {
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(host, 0))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free UDP port on " + host, e);
        }
    }

    /** Where peers send to this engine. */
    public Endpoint localEndpoint() {
        return localEndpoint;
    }

    /** What this transport served, and what went wrong in its duty cycles. */
    public AeronCounters counters() {
        return counters;
    }

    /**
     * The links to a peer's Aeron endpoints (one publication each), made on first use without
     * connecting: they are down until {@link #connect} brings them up. Never blocks.
     */
    public List<AeronLink> links(List<Endpoint> endpoints) {
        return linksOf(new AeronPeer.Udp(endpoints));
    }

    /**
     * The link to a peer on this engine's media driver (one IPC publication to its stream),
     * made on first use without connecting, as {@link #links}. Never blocks.
     */
    public List<AeronLink> ipcLinks(AeronIpc address) {
        return linksOf(new AeronPeer.Ipc(address));
    }

    private List<AeronLink> linksOf(AeronPeer peer) {
        List<AeronLink> links = peers.get(peer);
        if (links != null) {
            return links;
        }
        List<AeronLink> made = new ArrayList<>();
        if (peer instanceof AeronPeer.Ipc ipc) {
            byte[] reply = (IPC_REPLY + ipcAddress.streamId()).getBytes(StandardCharsets.US_ASCII);
            made.add(new AeronLink(this, listener, peer, "aeron:ipc:" + ipc.address().streamId(), IPC_CHANNEL,
                    ipc.address().streamId(), reply));
        } else {
            for (Endpoint e : ((AeronPeer.Udp) peer).endpoints()) {
                made.add(new AeronLink(this, listener, peer, "aeron:" + e, "aeron:udp?endpoint=" + e + PUBLICATION_PARAMS,
                        STREAM_ID, replyTo));
            }
        }
        List<AeronLink> raced = peers.putIfAbsent(peer, List.copyOf(made));
        if (raced != null) {
            return raced;
        }
        links = peers.get(peer);
        sender.add(links);
        return links;
    }

    /**
     * Where this engine receives over Aeron IPC, or null when its driver is its own (no other
     * process can share it).
     */
    public AeronIpc ipcAddress() {
        return ipcAddress;
    }

    /** Whether a peer at {@code address} runs on this engine's media driver, so IPC reaches it. */
    public boolean reachesByIpc(AeronIpc address) {
        return ipcAddress != null && address != null && address.driver().equals(ipcAddress.driver());
    }

    /**
     * Connects the links to a peer: adds the publications not made yet and waits up to
     * {@code connectMillis} for them to connect; probes the links that are quarantined (past
     * their backoff) and waits for the probes' outcome, up to the connect timeout plus twice
     * the stall timeout. Blocks: call it on a healer thread, never on an agent or an I/O thread.
     *
     * @return whether any of the peer's links is up
     */
    public boolean connect(AeronPeer peer, long connectMillis) {
        List<AeronLink> links = linksOf(peer);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(connectMillis);
        synchronized (links) {
            for (AeronLink link : links) {
                if (link.publication == null) {
                    // Exclusive: one session per link, which the peer can fence alone (a shared one
                    // may carry the links of other engines on this driver).
                    link.publication = aeron.addExclusivePublication(link.channel, link.streamId);
                    link.publishedNanos = System.nanoTime();
                }
            }
        }
        for (AeronLink link : links) {
            synchronized (link) {
                if (link.down && link.sessionLost && link.probe == null && link.publication != null) {
                    renew(link); // before the wait, so that the probe below finds the new session connected
                }
            }
        }
        while (System.nanoTime() < deadline && !allConnected(links) && !closed
                && !Thread.currentThread().isInterrupted()) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        long probeWait = TimeUnit.MILLISECONDS.toNanos(connectMillis) + 2 * stallNanos;
        for (AeronLink link : links) {
            AeronProbe probe = link.down ? probe(link, System.nanoTime()) : null;
            if (probe != null) {
                try {
                    probe.outcome.get(probeWait, TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    // still quarantined: the prober tries again after the backoff
                }
            }
        }
        boolean up = false;
        for (AeronLink link : links) {
            up |= link.isUp();
        }
        return up;
    }

    /**
     * Connects the links to a peer as {@link #connect} does, unless they were connected
     * before (then returns at once, whatever their state: quarantined links wait for the prober).
     *
     * @return whether any of the peer's links is up
     */
    public boolean connectFirst(AeronPeer peer, long connectMillis) {
        List<AeronLink> links = linksOf(peer);
        for (AeronLink link : links) {
            if (link.publication == null) {
                return connect(peer, connectMillis);
            }
        }
        for (AeronLink link : links) {
            if (link.isUp()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Starts a probe of a quarantined link, unless one is in flight or its backoff holds;
     * returns the probe in flight, or null. A link that never carried a slice has no segment
     * to probe: it is readmitted once its publication is connected. Never blocks.
     */
    private AeronProbe probe(AeronLink link, long nowNanos) {
        synchronized (link) {
            AeronProbe current = link.probe;
            if (current != null || !link.down) {
                return current;
            }
            if (link.sessionLost && link.publication != null) {
                renew(link);
            }
            if (!link.mayProbe(nowNanos, PROBE_BACKOFF_NANOS)) {
                return null;
            }
            String segment = link.probeSegment;
            Publication publication = link.publication;
            if (publication != null && !publication.isConnected()) {
                return null; // a new session not connected yet: probed once it is
            }
            if (segment == null) {
                if (publication != null && publication.isConnected()) {
                    link.readmit();
                }
                return null;
            }
            AeronProbe probe = new AeronProbe(link, -1, segment);
            link.probe = probe;
            link.probeToSend = probe;
            counters.probesSent.increment();
            probe.outcome.thenAccept(answered -> (answered ? counters.readmissions : counters.probesUnanswered)
                    .increment());
            wakeSender();
            return probe;
        }
    }

    /**
     * Another path to the peers of this transport (the engine's TCP links to the same node),
     * over which a lost session is fenced when no Aeron link can carry the fence, and which
     * tells whether the node is gone.
     *
     * <p>Implementations are thread-safe.
     */
    public interface OtherPath {
        /**
         * Sends a FENCE_SESSION on a link of this path that is up. Never blocks.
         *
         * @return completes on the peer's answer, exceptionally if that link closes first; null
         *         when no link of this path is up
         */
        CompletableFuture<Void> fence(int sessionId, String replyEndpoint);

        /**
         * Whether the peer's process is gone: nothing listens at any of its endpoints (each
         * refused connects in a row). May block on connects, up to the connect timeout.
         */
        boolean gone();
    }

    /** Sets the other path to {@code peer} (its TCP links); the engine sets it once per peer. */
    public void otherPath(AeronPeer peer, OtherPath path) {
        otherPaths.put(peer, path);
    }

    /**
     * What FENCE_SESSIONs served on other paths (the TCP transport's) go through: each is applied
     * by this transport's receiver, on the thread that takes requests.
     */
    public SessionFences sessionFences() {
        return (session, reply) -> {
            CompletableFuture<Void> done = new CompletableFuture<>();
            localFences.add(new AeronReceiver.LocalFence(session, reply, done));
            if (closed) {
                completeLocalFences(); // no receiver runs any more: nothing of any session can land
            }
            return done;
        };
    }

    private void completeLocalFences() {
        AeronReceiver.LocalFence fence;
        while ((fence = localFences.poll()) != null) {
            fence.done().complete(null);
        }
    }

    /**
     * Asks the peer of {@code lost} to fence the session of a publication of it that lost
     * WRITEs, and answer: on another session of the peer's Aeron links that is connected (the
     * lost link's new one, after the prober renewed it) and on the {@link OtherPath}, at once; again
     * every {@value #FENCE_RETRY_MILLIS} ms until one answers or the fence timeout passes.
     * Never blocks.
     *
     * <p>When the peer is gone no fence can be answered, so none is waited for: when none of
     * its Aeron publications is connected though each had the connect timeout to (no media
     * driver there takes a new session) and its other path finds every endpoint refusing connects ({@link OtherPath#gone}), the fence
     * completes without an answer (counted, {@link AeronCounters#fencesOfPeersGone}).
     *
     * @return completes once the peer confirmed that nothing more of the session can land;
     *         exceptionally, with a non-retryable {@link TransferException}, when that is not
     *         confirmed within the fence timeout
     */
    CompletableFuture<Void> fence(AeronLink lost, int session) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        long deadline = System.nanoTime() + fenceTimeoutNanos;
        try {
            prober.execute(() -> tryFence(lost, session, done, deadline));
        } catch (RejectedExecutionException e) {
            done.completeExceptionally(new TransferException("transport closed before a fence was confirmed", false, e));
        }
        return done;
    }

    private void tryFence(AeronLink lost, int session, CompletableFuture<Void> done, long deadline) {
        if (done.isDone()) {
            return;
        }
        // On both paths at once where both are up: the first answer is enough.
        CompletableFuture<Void> viaAeron = null;
        for (AeronLink link : linksOf(lost.peer)) {
            Publication p = link.publication;
            if (p != null && p.isConnected() && p.sessionId() != session) {
                viaAeron = sendFence(link, session, lost.reply);
                break;
            }
        }
        OtherPath other = otherPaths.get(lost.peer);
        CompletableFuture<Void> viaOther = other == null ? null : other.fence(session, lost.reply);
        if (viaOther == null && other != null) {
            // Its links may never have been used: connecting them (blocking, past their backoff) also
            // tells whether anything listens there.
            if (other.gone() && noneConnected(lost.peer)) {
                counters.fencesOfPeersGone.increment();
                done.complete(null);
                return;
            }
            viaOther = other.fence(session, lost.reply);
        }
        if (viaAeron == null && viaOther == null) {
            fenceLater(lost, session, done, deadline);
            return;
        }
        AtomicInteger pending = new AtomicInteger(
                (viaAeron == null ? 0 : 1) + (viaOther == null ? 0 : 1));
        for (CompletableFuture<Void> acked : new CompletableFuture[] {viaAeron, viaOther}) {
            if (acked == null) {
                continue;
            }
            acked.orTimeout(2 * stallNanos, TimeUnit.NANOSECONDS).whenComplete((v, e) -> {
                if (e == null) {
                    done.complete(null);
                } else if (pending.decrementAndGet() == 0) {
                    fenceLater(lost, session, done, deadline);
                }
            });
        }
    }

    private void fenceLater(AeronLink lost, int session, CompletableFuture<Void> done, long deadline) {
        if (System.nanoTime() - deadline > 0) {
            done.completeExceptionally(new TransferException("the target did not confirm within "
                    + TimeUnit.NANOSECONDS.toMillis(fenceTimeoutNanos) + " ms that the WRITEs of a lost Aeron "
                    + "session of " + lost.name + " can no longer land", false));
            return;
        }
        try {
            prober.schedule(() -> tryFence(lost, session, done, deadline), FENCE_RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            done.completeExceptionally(new TransferException("transport closed before a fence was confirmed", false, e));
        }
    }

    /** None of the peer's publications is connected, though each had the connect timeout to connect. */
    private boolean noneConnected(AeronPeer peer) {
        long now = System.nanoTime();
        for (AeronLink link : linksOf(peer)) {
            Publication p = link.publication;
            if (p != null && (p.isConnected() || now - link.publishedNanos < connectNanos)) {
                return false;
            }
        }
        return true;
    }

    /** Queues a FENCE_SESSION on {@code link} for the sender; completes on its answer. */
    private CompletableFuture<Void> sendFence(AeronLink link, int session, String reply) {
        long id = fenceIds.incrementAndGet();
        CompletableFuture<Void> acked = new CompletableFuture<>();
        pendingFences.put(id, acked);
        acked.whenComplete((v, e) -> pendingFences.remove(id));
        if (!link.fences.offer(new OutgoingFence(id, session, reply, acked))) {
            acked.completeExceptionally(new TransferException("too many fences queued on " + link.name, true));
        }
        wakeSender();
        return acked;
    }

    /** The answer to the FENCE_SESSION of {@code id} came in. Receiver. */
    void fenceAcked(long id) {
        CompletableFuture<Void> acked = pendingFences.remove(id);
        if (acked != null) {
            acked.complete(null);
        } else {
            counters.lateAnswers.increment();
        }
    }

    /**
     * Replaces the publication of a link on which a slice stalled by a new one, of a new
     * session: the stalled session may be broken for good (its image gone at the peer), and the
     * peer can fence the old session while the new one carries probes, fences and slices. The
     * old one is closed; what its driver still holds may yet arrive, and is fenced. Prober or
     * healer thread, under the link's monitor.
     */
    private void renew(AeronLink link) {
        link.sessionLost = false;
        Publication old = link.publication;
        link.publication = aeron.addExclusivePublication(link.channel, link.streamId);
        link.publishedNanos = System.nanoTime();
        counters.sessionsRenewed.increment();
        CloseHelper.quietClose(old);
    }

    /** Probes the quarantined links of every peer, so that a link that recovers is used again. */
    private void probeQuarantined() {
        long now = System.nanoTime();
        for (List<AeronLink> links : peers.values()) {
            for (AeronLink link : links) {
                if (link.down && link.publication != null) {
                    probe(link, now);
                }
            }
        }
    }

    private static boolean allConnected(List<AeronLink> links) {
        for (AeronLink link : links) {
            Publication p = link.publication;
            if (p == null || !p.isConnected()) {
                return false;
            }
        }
        return true;
    }

    /** Wakes the sender agent when it parks idle: work was queued for it. Any thread. */
    void wakeSender() {
        Thread thread = senderRunner.thread(); // null until its thread runs; a tombstone once closed
        if (thread != null) {
            LockSupport.unpark(thread);
        }
    }

    /** Points {@code view} at {@code bytes}: native memory in place, heap memory (notifications) copied. */
    static UnsafeBuffer wrap(UnsafeBuffer view, MemorySegment bytes) {
        if (bytes.isNative()) {
            view.wrap(bytes.address(), (int) bytes.byteSize());
        } else {
            view.wrap(bytes.toArray(ValueLayout.JAVA_BYTE));
        }
        return view;
    }

    /** Stops the agents (sender first, then receiver), then closes the client and the driver. */
    @Override
    public void close() {
        closed = true;
        prober.shutdownNow();
        try {
            CloseHelper.closeAll(senderRunner, receiverRunner, aeron, driver);
        } finally {
            completeLocalFences();
            pendingFences.values().forEach(f -> f.completeExceptionally(new TransferException(
                    "transport closed before a fence was confirmed", false)));
        }
    }

    /**
     * The sender's idle strategy: while an offer is back-pressured it retries soon (spins,
     * yields, then parks 1 to 50 us, leaving the core to the media driver that drains the
     * publication); when it has nothing to do it backs off to parks of up to 1 ms, cut short
     * by {@link #wakeSender} when work is queued.
     */
    private static final class SenderIdleStrategy implements IdleStrategy {
        private final AeronSender sender;
        private final BackoffIdleStrategy pressured = new BackoffIdleStrategy(20, 10,
                TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MICROSECONDS.toNanos(50));
        private final BackoffIdleStrategy quiet = new BackoffIdleStrategy(100, 10,
                TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1));

        SenderIdleStrategy(AeronSender sender) {
            this.sender = sender;
        }

        @Override
        public void idle(int workCount) {
            if (workCount > 0) {
                reset();
            } else {
                idle();
            }
        }

        @Override
        public void idle() {
            (sender.backPressured() ? pressured : quiet).idle();
        }

        @Override
        public void reset() {
            pressured.reset();
            quiet.reset();
        }
    }
}
