package dev.ferry.transfer;

import dev.ferry.nativemem.Slab;
import dev.ferry.transfer.metrics.LinkTraffic;
import dev.ferry.transfer.metrics.TransferMetrics;
import dev.ferry.transfer.segment.AeronIpc;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.HostIdentity;
import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.segment.SegmentDescriptor;
import dev.ferry.transfer.segment.SegmentResolver;
import dev.ferry.transfer.slice.Opcode;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.SliceOwner;
import dev.ferry.transfer.slice.SliceSizer;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.slice.UnsettledSliceException;
import dev.ferry.transfer.spray.EarliestFinishPolicy;
import dev.ferry.transfer.spray.SliceDispatcher;
import dev.ferry.transfer.spray.SprayPolicy;
import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.NotificationListener;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.aeron.AeronCounters;
import dev.ferry.transfer.transport.aeron.AeronPeer;
import dev.ferry.transfer.transport.aeron.AeronTransport;
import dev.ferry.transfer.transport.serve.ServingCounters;
import dev.ferry.transfer.transport.shm.ShmTransport;
import dev.ferry.transfer.transport.tcp.TcpCounters;
import dev.ferry.transfer.transport.tcp.TcpTransport;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The transfer engine of one process: it serves the segments registered here to peers,
 * and moves batches of READ and WRITE requests between local buffers and any segment.
 *
 * <p>A request to a segment of this process is a direct copy. A request to a segment of
 * another process on this host whose memory is a file is a copy through a shared mapping
 * ({@link ShmTransport}), unless {@link Context#sharedMemory(boolean)} turns that off. Any
 * other request is cut into slices ({@link SliceSizer}), each sprayed on one of the peer's
 * links by the {@link SprayPolicy}: its Aeron links when both engines run Aeron (IPC when
 * they share a media driver, {@link Context#aeronDirectory(String)}, else UDP), its TCP
 * links otherwise or when no Aeron link is up (and its Aeron links when it runs Aeron and no TCP
 * link comes up, for a request sent over TCP); a slice that fails on a link for a retryable reason (connection
 * lost, stalled, CRC mismatch) is sent again at once on another link, up to
 * {@link Context#maxAttempts(int)} times in all. A request outside its target segment is
 * refused at submit with an {@link IllegalArgumentException}.
 *
 * <p>Thread-safe. Owns sockets and threads: close it.
 */
public final class TransferEngine implements AutoCloseable, SliceListener {
    /** Largest notification message, bytes (64 KiB). */
    public static final int MAX_NOTIFICATION_BYTES = dev.ferry.transfer.transport.frame.SliceFrame.MAX_NOTIFICATION_BYTES;

    private final Context ctx;
    private final LocalSegments segments = new LocalSegments();
    private final TcpTransport tcp;
    private final ShmTransport shm;
    private final ExecutorService healer;
    private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ferry-deadlines");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong sliceIds = new AtomicLong();
    private final Map<List<Endpoint>, SliceDispatcher> dispatchers = new ConcurrentHashMap<>();
    /** Aeron dispatchers by peer: its UDP endpoints, or its {@link AeronIpc} address when it shares our driver. */
    private final Map<AeronPeer, SliceDispatcher> aeronDispatchers = new ConcurrentHashMap<>();
    private final LongAdder transportFailovers = new LongAdder();
    private final AeronTransport aeron;
    private final LongAdder slicesSent = new LongAdder();
    private final LongAdder sliceRetries = new LongAdder();
    private final LongAdder failedRequests = new LongAdder();
    private final LongAdder fencesAwaited = new LongAdder();
    private final TransferMetrics metrics;

    /**
     * Starts the engine: binds its TCP server and starts its I/O threads.
     *
     * @throws IllegalStateException if the context is invalid or the port cannot be bound
     */
    public TransferEngine(Context context) {
        this.ctx = context.conclude();
        this.shm = new ShmTransport(ctx.populateSharedMemory);
        this.metrics = ctx.registry == null ? null : new TransferMetrics(ctx.registry, ctx.name);
        if (metrics != null) {
            metrics.counter("ferry.transfer.slices.sent", "slices handed to links, resends included", slicesSent,
                    LongAdder::sum);
            metrics.counter("ferry.transfer.slices.retried", "slices resent after a retryable failure", sliceRetries,
                    LongAdder::sum);
            metrics.counter("ferry.transfer.slices.fenced", "WRITE slices lost in flight whose resend waited for the "
                    + "target to fence the lost link", fencesAwaited, LongAdder::sum);
            metrics.counter("ferry.transfer.requests.failed", "requests that failed", failedRequests, LongAdder::sum);
            metrics.counter("ferry.transfer.shm.bytes", "bytes moved through shared memory", shm, ShmTransport::bytes);
            metrics.counter("ferry.transfer.shm.populated.bytes", "bytes of other processes' slabs populated in "
                    + "this process's mappings", shm, ShmTransport::populatedBytes);
            metrics.counter("ferry.transfer.shm.populate.millis", "time spent populating mappings of other "
                    + "processes' slabs, in the background", shm, ShmTransport::populateMillis);
            metrics.counter("ferry.transfer.shm.populate.failures", "mappings whose populating failed", shm,
                    ShmTransport::populateFailures);
        }
        // A virtual thread per connect or probe: a peer that does not answer its connect holds
        // only its own, so the first submit to another peer is never queued behind it.
        this.healer = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("ferry-heal-", 0).factory());
        try {
            this.tcp = new TcpTransport(segments, this, ctx.notifications, ctx.bindHost, ctx.port, ctx.ioThreads, ctx.linksPerPeer,
                    ctx.connectTimeoutMillis, TimeUnit.MILLISECONDS.toNanos(ctx.stallTimeoutMillis), ctx.security,
                    ctx.ioBackend);
        } catch (RuntimeException e) {
            healer.shutdownNow();
            timers.shutdownNow();
            throw e;
        }
        if (ctx.aeron) {
            try {
                this.aeron = new AeronTransport(segments, this, ctx.notifications, ctx.bindHost.equals("0.0.0.0")
                        ? ctx.advertise.getFirst() : ctx.bindHost, ctx.stallTimeoutMillis, ctx.connectTimeoutMillis,
                        ctx.aeronDirectory);
                tcp.sessionFences(aeron.sessionFences());
            } catch (RuntimeException e) {
                tcp.close();
                healer.shutdownNow();
                timers.shutdownNow();
                throw e;
            }
        } else {
            this.aeron = null;
        }
        if (metrics != null) {
            registerServing("tcp", tcp.counters().serving());
            metrics.counter("ferry.transfer.tcp.fences.served", "lost connections of initiators closed here on their "
                    + "FENCE", tcp.counters(), TcpCounters::fencesServed);
            metrics.counter("ferry.transfer.tcp.connections.fenced", "connections refused on arrival: fenced before "
                    + "their first frame came", tcp.counters(), TcpCounters::fencedConnections);
            metrics.counter("ferry.transfer.tcp.fences.peer.gone", "lost connections taken as fenced without an "
                    + "answer: the target ended them and then refused connects on every endpoint", tcp,
                    TcpTransport::fencesOfPeersGone);
            if (aeron != null) {
                registerServing("aeron", aeron.counters().serving());
                registerAeron(aeron.counters());
            }
        }
    }

    private void registerServing(String transport, ServingCounters c) {
        metrics.counter("ferry.transfer.served.bytes.written", "bytes peers wrote into this node's segments", transport,
                c, ServingCounters::bytesWritten);
        metrics.counter("ferry.transfer.served.bytes.read", "bytes peers read out of this node's segments", transport,
                c, ServingCounters::bytesRead);
        metrics.counter("ferry.transfer.served.crc.mismatches", "WRITE payloads and notifications refused for a "
                + "CRC32C mismatch", transport, c, ServingCounters::crcMismatches);
        metrics.counter("ferry.transfer.served.refusals", "requests refused: unknown segment, range outside it, "
                + "over-long notification, cut-short message", transport, c, ServingCounters::refusals);
    }

    private void registerAeron(AeronCounters c) {
        metrics.counter("ferry.transfer.aeron.slices.stalled", "slices with no answer within the stall timeout", c,
                AeronCounters::stalledSlices);
        metrics.counter("ferry.transfer.aeron.links.down", "times an Aeron link was quarantined", c,
                AeronCounters::linksMarkedDown);
        metrics.counter("ferry.transfer.aeron.probes.sent", "probes sent on quarantined Aeron links", c,
                AeronCounters::probesSent);
        metrics.counter("ferry.transfer.aeron.probes.unanswered", "probes that got no answer in time", c,
                AeronCounters::probesUnanswered);
        metrics.counter("ferry.transfer.aeron.readmissions", "quarantined Aeron links readmitted after a probe", c,
                AeronCounters::readmissions);
        metrics.counter("ferry.transfer.aeron.sends.backpressured", "slice offers that met back pressure", c,
                AeronCounters::sendsBackPressured);
        metrics.counter("ferry.transfer.aeron.sends.failed", "slice offers that failed", c, AeronCounters::sendsFailed);
        metrics.counter("ferry.transfer.aeron.answers.backpressured", "answers whose offer met back pressure", c,
                AeronCounters::answersBackPressured);
        metrics.counter("ferry.transfer.aeron.answers.dropped", "answers not sent within the stall timeout", c,
                AeronCounters::answersDropped);
        metrics.counter("ferry.transfer.aeron.answers.late", "answers that came after their slice had failed", c,
                AeronCounters::lateAnswers);
        metrics.counter("ferry.transfer.aeron.messages.malformed", "messages dropped for a malformed head", c,
                AeronCounters::malformedMessages);
        metrics.counter("ferry.transfer.aeron.fences.served", "initiators' lost Aeron sessions fenced here on their "
                + "FENCE_SESSION (over Aeron or TCP)", c, AeronCounters::fencesServed);
        metrics.counter("ferry.transfer.aeron.messages.fenced", "requests of fenced Aeron sessions dropped here", c,
                AeronCounters::fencedMessages);
        metrics.counter("ferry.transfer.aeron.fences.peer.gone", "lost Aeron sessions taken as fenced without an "
                + "answer: no publication to the target connected and every TCP endpoint refused connects", c,
                AeronCounters::fencesOfPeersGone);
        metrics.counter("ferry.transfer.aeron.sessions.renewed", "Aeron links given a new publication (session) "
                + "after a slice stalled on the old one", c, AeronCounters::sessionsRenewed);
        metrics.counter("ferry.transfer.aeron.errors", "exceptions in the Aeron duty cycles", c,
                AeronCounters::errors);
    }

    /**
     * Registers local memory as a segment that peers may read and write.
     *
     * @return the descriptor to publish through the metadata service
     * @throws IllegalArgumentException if the name is taken
     */
    public SegmentDescriptor registerSegment(String name, MemorySegment memory) {
        segments.register(name, memory);
        return new SegmentDescriptor(name, memory.byteSize(), advertised(), HostIdentity.id(), "", aeronAdvertised(),
                aeron == null ? null : aeron.ipcAddress());
    }

    /**
     * Registers a slab as a segment; when the slab is backed by a file, co-located peers may
     * map that file and reach the segment through shared memory.
     *
     * @throws IllegalArgumentException if the name is taken
     */
    public SegmentDescriptor registerSegment(String name, Slab slab) {
        segments.register(name, slab.memory());
        return new SegmentDescriptor(name, slab.bytes(), advertised(), HostIdentity.id(),
                slab.file().map(Object::toString).orElse(""), aeronAdvertised(), aeron == null ? null : aeron.ipcAddress());
    }

    private List<Endpoint> aeronAdvertised() {
        if (aeron == null) {
            return List.of();
        }
        int port = aeron.localEndpoint().port();
        return ctx.advertise.stream().map(host -> new Endpoint(host, port)).toList();
    }

    private List<Endpoint> advertised() {
        int port = tcp.localEndpoint().port();
        return ctx.advertise.stream().map(host -> new Endpoint(host, port)).toList();
    }

    /** Stops serving a segment. */
    public void unregisterSegment(String name) {
        segments.unregister(name);
    }

    /** The I/O backend its TCP transport was asked for and the one it runs on. */
    public dev.ferry.transfer.transport.tcp.IoSelection tcpIo() {
        return tcp.io();
    }

    /** Where peers reach this engine. */
    public Endpoint endpoint() {
        return tcp.localEndpoint();
    }

    /**
     * Submits a batch. Requests to local segments complete before this returns; the others
     * complete on I/O threads.
     *
     * @throws IllegalArgumentException if a request's range lies outside its target segment
     * @throws TransferException (not retryable) if a target segment is unknown
     */
    public BatchHandle submit(List<TransferRequest> batch) {
        List<CompletableFuture<Void>> futures = new ArrayList<>(batch.size());
        List<CompletableFuture<Void>> settles = new ArrayList<>(batch.size());
        List<Runnable> sends = new ArrayList<>(batch.size());
        for (TransferRequest request : batch) {
            CompletableFuture<Void> future = new CompletableFuture<>();
            futures.add(future);
            CompletableFuture<Void> settled = new CompletableFuture<>();
            settles.add(settled);
            MemorySegment local = segments.find(request.targetSegment());
            if (local != null) {
                checkRange(request, local.byteSize());
                sends.add(() -> {
                    try {
                        copyLocally(request, local, future);
                    } finally {
                        settled.complete(null);
                    }
                });
            } else {
                SegmentDescriptor target = ctx.resolver.resolve(request.targetSegment());
                checkRange(request, target.bytes());
                boolean viaShm = ctx.sharedMemory && shm.reaches(target);
                boolean viaAeron = reachesByAeron(target);
                Transport t = switch (request.transport()) {
                    case SHARED_MEMORY -> viaShm ? Transport.SHARED_MEMORY : auto(viaShm, viaAeron);
                    case AERON -> viaAeron ? Transport.AERON : auto(viaShm, viaAeron);
                    case TCP -> Transport.TCP;
                    case AUTO -> auto(viaShm, viaAeron);
                };
                sends.add(switch (t) {
                    case SHARED_MEMORY -> () -> copyShared(request, target, future, settled);
                    case AERON -> () -> sendRemote(request, aeronDispatcher(target), future, true, settled);
                    default -> () -> sendRemote(request, dispatcher(target), future, false, settled);
                });
            }
        }
        for (Runnable send : sends) {
            send.run();
        }
        return new BatchHandle(futures, settles);
    }

    private boolean reachesByAeron(SegmentDescriptor target) {
        return aeron != null && (!target.aeronEndpoints().isEmpty() || aeron.reachesByIpc(target.aeronIpc()));
    }

    /** The engine's own order: shared memory on the same host, then Aeron, then TCP. */
    private static Transport auto(boolean viaShm, boolean viaAeron) {
        return viaShm ? Transport.SHARED_MEMORY : viaAeron ? Transport.AERON : Transport.TCP;
    }

    private static void checkRange(TransferRequest request, long segmentBytes) {
        if (request.targetOffset() > segmentBytes - request.length()) {
            throw new IllegalArgumentException("target range [" + request.targetOffset() + ", "
                    + (request.targetOffset() + request.length()) + ") crosses the end of segment '"
                    + request.targetSegment() + "' (" + segmentBytes + " bytes)");
        }
    }

    private static void copyLocally(TransferRequest r, MemorySegment target, CompletableFuture<Void> future) {
        if (r.opcode() == Opcode.WRITE) {
            MemorySegment.copy(r.local(), r.localOffset(), target, r.targetOffset(), r.length());
        } else {
            MemorySegment.copy(target, r.targetOffset(), r.local(), r.localOffset(), r.length());
        }
        future.complete(null);
    }

    private void copyShared(TransferRequest r, SegmentDescriptor target, CompletableFuture<Void> future,
                            CompletableFuture<Void> settled) {
        try {
            shm.copy(r.opcode(), r.local(), r.localOffset(), target, r.targetOffset(), r.length());
            future.complete(null);
            settled.complete(null);
        } catch (RuntimeException e) {
            // The file went away or cannot be mapped: the network path still works.
            shm.forget(target);
            sendRemote(r, dispatcher(target), future, false, settled);
        }
    }

    private SliceDispatcher dispatcher(SegmentDescriptor target) {
        // Only makes the links: they connect on the healer when the first slice finds none up,
        // so no caller waits here on another's connect.
        return dispatchers.computeIfAbsent(target.endpoints(), endpoints -> {
            List<? extends Link> links = tcp.unconnectedLinks(endpoints);
            if (metrics != null) {
                links.forEach(link -> metrics.link(link, LinkTraffic.TCP));
            }
            return new SliceDispatcher(links, ctx.sprayPolicy, healer, () -> tcp.reconnect(endpoints),
                    (slice, cause) -> {
                        RequestState state = (RequestState) slice.owner();
                        if (reachesByAeron(target) && !state.failedOverToTcp) {
                            // No TCP link comes up, but the peer runs Aeron: its slices go there (once:
                            // a request that came over from Aeron fails here rather than going back).
                            state.failedOverToAeron = true;
                            SliceDispatcher aeronLinks = aeronDispatcher(target);
                            state.peer = aeronLinks;
                            transportFailovers.increment();
                            aeronLinks.enqueue(slice);
                            return;
                        }
                        ctx.resolver.invalidate(slice.target());
                        state.fail(cause);
                    });
        });
    }

    /**
     * The Aeron links of a peer: its IPC link when it runs on our media driver, else one link
     * per UDP endpoint; when none of them is up, its waiting slices fail over to the peer's
     * TCP links instead of failing.
     */
    private SliceDispatcher aeronDispatcher(SegmentDescriptor target) {
        boolean ipc = aeron.reachesByIpc(target.aeronIpc());
        AeronPeer peer = ipc ? new AeronPeer.Ipc(target.aeronIpc()) : new AeronPeer.Udp(target.aeronEndpoints());
        return aeronDispatchers.computeIfAbsent(peer, key -> {
            List<? extends Link> links = ipc ? aeron.ipcLinks(target.aeronIpc()) : aeron.links(target.aeronEndpoints());
            if (metrics != null) {
                links.forEach(link -> metrics.link(link, ipc ? LinkTraffic.AERON_IPC : LinkTraffic.AERON));
            }
            List<Endpoint> tcpEndpoints = target.endpoints();
            aeron.otherPath(peer, new AeronTransport.OtherPath() {
                @Override
                public CompletableFuture<Void> fence(int sessionId, String replyEndpoint) {
                    return tcp.fenceSession(tcpEndpoints, sessionId, replyEndpoint);
                }

                @Override
                public boolean gone() {
                    return !tcpEndpoints.isEmpty() && tcp.refusesEverywhere(tcpEndpoints);
                }
            });
            return new SliceDispatcher(links, ctx.sprayPolicy, healer,
                    () -> aeron.connect(peer, ctx.connectTimeoutMillis),
                    (slice, cause) -> {
                        RequestState state = (RequestState) slice.owner();
                        if (state.failedOverToAeron) {
                            // It came over from TCP, whose links are down too: no ping-pong between the two.
                            ctx.resolver.invalidate(slice.target());
                            state.fail(cause);
                            return;
                        }
                        state.failedOverToTcp = true;
                        SliceDispatcher tcpLinks = dispatcher(target);
                        state.peer = tcpLinks;
                        transportFailovers.increment();
                        tcpLinks.enqueue(slice);
                    });
        });
    }

    /**
     * Cuts a request into slices and queues them on the peer's links.
     *
     * @param checksumFirst whether the transport wants each WRITE slice's CRC32C before it sends
     *                      the slice (Aeron: it is in the message head); TCP takes it while
     *                      sending, as a trailer
     */
    private void sendRemote(TransferRequest r, SliceDispatcher peer, CompletableFuture<Void> future,
                            boolean checksumFirst, CompletableFuture<Void> settled) {
        int sliceBytes = SliceSizer.sliceBytes(r.length(), peer.links().size());
        int count = (int) ((r.length() + sliceBytes - 1) / sliceBytes);
        RequestState state = new RequestState(peer, future, count, settled);
        for (long at = 0; at < r.length() && !state.isDone(); at += sliceBytes) {
            int length = (int) Math.min(sliceBytes, r.length() - at);
            slicesSent.increment();
            Slice slice = new Slice(sliceIds.incrementAndGet(), r.opcode(), r.local(), r.localOffset() + at,
                    r.targetSegment(), r.targetOffset() + at, length, r.priority(), state);
            if (checksumFirst && r.opcode() == Opcode.WRITE) {
                slice.payloadCrc(); // here, on the caller's thread, while the I/O threads send the slices before it
            }
            peer.enqueue(slice);
        }
        if (r.deadlineNanos() != 0 && !future.isDone()) {
            long delay = r.deadlineNanos() - System.nanoTime();
            var timer = timers.schedule(() -> state.fail(new TransferTimeoutException("request of " + r.length()
                    + " bytes to '" + r.targetSegment() + "' missed its deadline")), Math.max(0, delay),
                    TimeUnit.NANOSECONDS);
            future.whenComplete((v, e) -> timer.cancel(false));
        }
    }

    @Override
    public void onCompleted(Slice slice, Link link) {
        RequestState state = (RequestState) slice.owner();
        state.sliceDone();
        state.settledOne();
        state.peer.drain();
    }

    @Override
    public void onFailed(Slice slice, Link link, TransferException cause) {
        RequestState state = (RequestState) slice.owner();
        if (cause instanceof UnsettledSliceException unsettled && slice.opcode() == Opcode.WRITE) {
            // Its bytes may still be on their way: resend (or fail) only once the target confirms
            // that nothing more from the lost link can land, so no late copy overwrites the resend,
            // nor whatever the range holds after the request completes or fails. A request that
            // ended already (deadline, cancel, another slice's error) waits too: it settles only then.
            fencesAwaited.increment();
            unsettled.fence().whenComplete((v, e) -> {
                if (e != null) {
                    TransferException why = new TransferException("a WRITE to '" + slice.target() + "' was lost in "
                            + "flight and the target did not confirm it can no longer land: " + e.getMessage(), false, e);
                    state.unconfirmed(why);
                    state.fail(why);
                    state.settledOne();
                    state.peer.drain();
                } else {
                    state.settledOne();
                    afterFailure(slice, link, cause, state);
                }
            });
            return;
        }
        state.settledOne();
        afterFailure(slice, link, cause, state);
    }

    private void afterFailure(Slice slice, Link link, TransferException cause, RequestState state) {
        if (state.isDone()) {
            state.peer.drain();
            return;
        }
        if (!cause.retryable() || slice.attempts() >= ctx.maxAttempts) {
            // The node may have restarted elsewhere or died: resolve the segment afresh next time.
            ctx.resolver.invalidate(slice.target());
            state.fail(cause.retryable()
                    ? new TransferException("slice failed " + slice.attempts() + " times; last: " + cause.getMessage(),
                            false, cause)
                    : cause);
            state.peer.drain();
            return;
        }
        sliceRetries.increment();
        slicesSent.increment();
        state.peer.retry(slice, link);
    }

    /**
     * Sends a small message to the node that serves {@code targetSegment}, on one of its
     * links; the node's {@link Context#notificationListener} receives it. Use it to tell a
     * target that the data of an earlier batch is in place (the prefill -> decode hand-off):
     * send it after that batch completed.
     *
     * @param message at most {@link #MAX_NOTIFICATION_BYTES} bytes
     * @return completes when the target has received the message (CRC-checked)
     * @throws IllegalArgumentException if the message is too long
     * @throws TransferException (not retryable) if the segment is unknown
     */
    public CompletableFuture<Void> notify(String targetSegment, byte[] message) {
        if (message.length > MAX_NOTIFICATION_BYTES || message.length == 0) {
            throw new IllegalArgumentException("a notification holds 1 to " + MAX_NOTIFICATION_BYTES + " bytes, not "
                    + message.length);
        }
        SegmentDescriptor target = ctx.resolver.resolve(targetSegment);
        CompletableFuture<Void> future = new CompletableFuture<>();
        SliceDispatcher peer = dispatcher(target);
        RequestState state = new RequestState(peer, future, 1, new CompletableFuture<>());
        slicesSent.increment();
        peer.enqueue(new Slice(sliceIds.incrementAndGet(), Opcode.NOTIFY, MemorySegment.ofArray(message), 0,
                targetSegment, 0, message.length, TransferRequest.HIGH, state));
        return future;
    }

    /** Slices handed to links, retries included. */
    public long slicesSent() {
        return slicesSent.sum();
    }

    /** Slices sent again after a retryable failure. */
    public long sliceRetries() {
        return sliceRetries.sum();
    }

    /**
     * WRITE slices lost in flight (their link closed or stalled before their answer) whose
     * resend or failure waited for the target to confirm that the lost link can no longer write.
     */
    public long fencedSlices() {
        return fencesAwaited.sum();
    }

    /**
     * Lost TCP connections taken as fenced without the target's FENCE_ACK because the target
     * is gone: it ended the connection itself, then refused connects on every endpoint
     * (docs/protocol.md, FENCE).
     */
    public long fencesOfPeersGone() {
        return tcp.fencesOfPeersGone();
    }

    /** Requests that failed. */
    public long failedRequests() {
        return failedRequests.sum();
    }

    /** Counters of the TCP serving side. */
    public TcpCounters tcpCounters() {
        return tcp.counters();
    }

    /**
     * Links to the peer at {@code endpoint}, for metrics and tests: connected on first use;
     * links that went down later are left to the prober.
     */
    public List<? extends Link> links(Endpoint endpoint) {
        return tcp.links(List.of(endpoint));
    }

    /** Links to the peer serving {@code target} over TCP (connected on first use). */
    public List<? extends Link> links(SegmentDescriptor target) {
        return tcp.links(target.endpoints());
    }

    /** Bytes moved through shared memory. */
    public long sharedMemoryBytes() {
        return shm.bytes();
    }

    /**
     * This process's mappings of other processes' slabs populated so far, and the time it took
     * (in the background; nothing when {@link Context#populateSharedMemory} is off).
     */
    public dev.ferry.transfer.metrics.MappingPopulation mappingPopulation() {
        return new dev.ferry.transfer.metrics.MappingPopulation(shm.populatedBytes(), shm.populateMillis());
    }

    /**
     * What each link this engine has opened carried so far, TCP links first, then Aeron's,
     * then one entry for shared memory (present even when it carried nothing). Reads the
     * links' own counters; safe to call at any time from any thread.
     */
    public List<LinkTraffic> traffic() {
        List<LinkTraffic> out = new ArrayList<>();
        dispatchers.values().forEach(d -> add(out, LinkTraffic.TCP, d));
        aeronDispatchers.forEach((peer, d) -> add(out, peer instanceof AeronPeer.Ipc ? LinkTraffic.AERON_IPC
                : LinkTraffic.AERON, d));
        out.add(new LinkTraffic(LinkTraffic.SHARED_MEMORY, "shared-memory", shm.bytes(), shm.copies()));
        return out;
    }

    private static void add(List<LinkTraffic> out, String transport, SliceDispatcher dispatcher) {
        for (Link link : dispatcher.links()) {
            out.add(new LinkTraffic(transport, link.name(), link.estimator().bytes(), link.estimator().slices(),
                    link.estimator().failures()));
        }
    }

    /**
     * Slices moved to the peer's other transport because none of its links on the first was up:
     * from Aeron to TCP, or from TCP to Aeron (a request moves once, never back).
     */
    public long transportFailovers() {
        return transportFailovers.sum();
    }

    /**
     * Links to the peer serving {@code target} over Aeron (connected on first use): its IPC
     * link when it shares this engine's media driver, else its UDP links; empty without Aeron.
     */
    public List<? extends Link> aeronLinks(SegmentDescriptor target) {
        if (aeron == null || (target.aeronEndpoints().isEmpty() && !aeron.reachesByIpc(target.aeronIpc()))) {
            return List.of();
        }
        AeronPeer peer = aeron.reachesByIpc(target.aeronIpc()) ? new AeronPeer.Ipc(target.aeronIpc())
                : new AeronPeer.Udp(target.aeronEndpoints());
        aeron.connectFirst(peer, ctx.connectTimeoutMillis);
        return peer instanceof AeronPeer.Ipc ? aeron.ipcLinks(target.aeronIpc()) : aeron.links(target.aeronEndpoints());
    }

    /** Counters of the Aeron transport (serving side and duty cycles), or null without Aeron. */
    public AeronCounters aeronCounters() {
        return aeron == null ? null : aeron.counters();
    }

    @Override
    public void close() {
        shm.close();
        if (aeron != null) {
            aeron.close();
        }
        tcp.close();
        healer.shutdownNow();
        timers.shutdownNow();
    }

    /** Progress of one request: slices left, and its future. */
    private final class RequestState implements SliceOwner {
        volatile SliceDispatcher peer;
        /** Slices of it went from Aeron over to TCP (none of the peer's Aeron links up). */
        volatile boolean failedOverToTcp;
        /** Slices of it went from TCP over to Aeron (none of the peer's TCP links up). */
        volatile boolean failedOverToAeron;
        final CompletableFuture<Void> future;
        final AtomicInteger remaining;

        /** Slices handed to a link whose outcome is not reported yet (a lost WRITE's: not fenced yet). */
        final AtomicInteger inFlight = new AtomicInteger();
        /** Completes once the request is done and none of its slices is in flight ({@link BatchHandle#settled}). */
        final CompletableFuture<Void> settled;
        /** A lost WRITE whose fence was not confirmed: it may still land, so the request never settles cleanly. */
        private volatile TransferException unconfirmed;

        RequestState(SliceDispatcher peer, CompletableFuture<Void> future, int slices,
                     CompletableFuture<Void> settled) {
            this.peer = peer;
            this.future = future;
            this.remaining = new AtomicInteger(slices);
            this.settled = settled;
            future.whenComplete((v, e) -> maybeSettled());
        }

        @Override
        public boolean isDone() {
            return future.isDone();
        }

        /**
         * Counted in flight first, then checked: a slice is never sent after the request
         * settled (the future completes, then the count is read, or the other way round).
         */
        @Override
        public boolean sending() {
            inFlight.incrementAndGet();
            if (future.isDone()) {
                settledOne();
                return false;
            }
            return true;
        }

        /** A slice's outcome is in (a lost WRITE's: once fenced, or not confirmed). */
        void settledOne() {
            if (inFlight.decrementAndGet() == 0) {
                maybeSettled();
            }
        }

        void unconfirmed(TransferException why) {
            unconfirmed = why;
        }

        private void maybeSettled() {
            if (future.isDone() && inFlight.get() == 0) {
                TransferException why = unconfirmed;
                if (why == null) {
                    settled.complete(null);
                } else {
                    settled.completeExceptionally(why);
                }
            }
        }

        void sliceDone() {
            if (remaining.decrementAndGet() == 0) {
                future.complete(null);
            }
        }

        void fail(TransferException cause) {
            if (future.completeExceptionally(cause)) {
                failedRequests.increment();
            }
        }
    }

    /**
     * Configuration of an engine, with fluent setters; {@link #conclude()} validates it and
     * fills defaults. Not thread-safe; hand it to one engine.
     */
    public static final class Context {
        private String bindHost = "127.0.0.1";
        private int port;
        private int ioThreads = 2;
        private dev.ferry.transfer.transport.tcp.IoBackend ioBackend;
        private int linksPerPeer = 2;
        private long connectTimeoutMillis = 2_000;
        private long stallTimeoutMillis = 2_000;
        private int maxAttempts = 4;
        private SprayPolicy sprayPolicy;
        private SegmentResolver resolver;
        private List<String> advertise;
        private boolean sharedMemory = true;
        private boolean populateSharedMemory = !Boolean.parseBoolean(System.getenv("FERRY_LAZY_SLAB"));
        private NotificationListener notifications;
        private io.micrometer.core.instrument.MeterRegistry registry;
        private boolean aeron;
        private String aeronDirectory;
        private String name = "ferry";
        private dev.ferry.transfer.tls.PortSecurity security;

        /**
         * The security of the TCP links, served and made (default: the process's,
         * {@link dev.ferry.transfer.tls.PortSecurity#process()}); without TLS the engine binds
         * loopback only, unless insecure, and Aeron UDP leaves loopback only when insecure.
         */
        public Context security(dev.ferry.transfer.tls.PortSecurity security) {
            this.security = security;
            return this;
        }

        /** Address the TCP server binds (default 127.0.0.1). */
        public Context bindHost(String host) {
            this.bindHost = host;
            return this;
        }

        /** The address the TCP server binds. */
        public String bindHost() {
            return bindHost;
        }

        /** TCP port to listen on; 0 (default) picks a free one. */
        public Context port(int port) {
            this.port = port;
            return this;
        }

        /** Netty event-loop threads (default 2). */
        public Context ioThreads(int threads) {
            this.ioThreads = threads;
            return this;
        }

        /**
         * The I/O backend of the TCP event loops (default: the one named by the system property
         * {@value dev.ferry.transfer.transport.tcp.IoBackend#PROPERTY}, else
         * {@link dev.ferry.transfer.transport.tcp.IoBackend#DEFAULT}); when it cannot run here,
         * the engine falls back to the next one ({@link TransferEngine#tcpIo()}).
         */
        public Context ioBackend(dev.ferry.transfer.transport.tcp.IoBackend backend) {
            this.ioBackend = backend;
            return this;
        }

        /** TCP connections, i.e. links, per peer (default 2). */
        public Context linksPerPeer(int links) {
            this.linksPerPeer = links;
            return this;
        }

        /** Longest wait for a connect, ms (default 2,000). */
        public Context connectTimeoutMillis(long millis) {
            this.connectTimeoutMillis = millis;
            return this;
        }

        /** A link with outstanding slices and no progress for this long is cut, ms (default 2,000). */
        public Context stallTimeoutMillis(long millis) {
            this.stallTimeoutMillis = millis;
            return this;
        }

        /** Sends of one slice before its request fails (default 4). */
        public Context maxAttempts(int attempts) {
            this.maxAttempts = attempts;
            return this;
        }

        /** Link choice per slice (default {@link EarliestFinishPolicy}). */
        public Context sprayPolicy(SprayPolicy policy) {
            this.sprayPolicy = policy;
            return this;
        }

        /**
         * Addresses published for this engine's segments, one endpoint per address (one per
         * interface), each reached by its own links (default: the bind address).
         */
        public Context advertise(List<String> hosts) {
            this.advertise = List.copyOf(hosts);
            return this;
        }

        /**
         * Whether segments of other processes on this host are reached through shared memory
         * when their descriptor names a file (default true); false sends everything over TCP.
         */
        public Context sharedMemory(boolean enabled) {
            this.sharedMemory = enabled;
            return this;
        }

        /**
         * Whether each mapping of another process's slab file (the shared-memory transport)
         * is populated in the background from the first WRITE through it, so that later first
         * writes to its pages take no page fault (default true, false when the environment sets
         * {@code FERRY_LAZY_SLAB=true}, as store nodes' {@code --lazy-slab} does for theirs).
         */
        public Context populateSharedMemory(boolean populate) {
            this.populateSharedMemory = populate;
            return this;
        }

        /**
         * Publishes the engine's and its links' measurements to {@code registry} under tag
         * {@code engine=name} ({@link TransferMetrics}); default none.
         */
        public Context metrics(io.micrometer.core.instrument.MeterRegistry registry, String name) {
            this.registry = registry;
            this.name = name;
            return this;
        }

        /**
         * Runs the Aeron UDP transport beside TCP (an embedded media driver, SHARED threading):
         * peers that run it too are reached over Aeron first, over TCP when no Aeron link is up
         * (default off).
         */
        public Context aeron(boolean enabled) {
            this.aeron = enabled;
            return this;
        }

        /**
         * Shares the Aeron media driver already running in {@code directory} instead of
         * launching one of this engine's own (implies {@link #aeron(boolean) aeron(true)}):
         * engines on the same driver, in this process or another process of the host, then
         * reach each other over Aeron IPC ({@code aeron:ipc}, through the driver's shared
         * memory), and everyone else over UDP as before. Start the driver with
         * {@code MediaDrivers.launch(directory)} (or {@code ferry aeron-driver}) before the
         * engines; an engine whose driver is gone fails its Aeron links over to TCP. Default:
         * none (an embedded driver per engine).
         */
        public Context aeronDirectory(String directory) {
            this.aeronDirectory = directory;
            this.aeron = directory != null || aeron;
            return this;
        }

        /** Receives the notifications peers send to this engine (default: dropped). */
        public Context notificationListener(NotificationListener listener) {
            this.notifications = listener;
            return this;
        }

        /** Resolves the segments of peers (default: none known). */
        public Context resolver(SegmentResolver resolver) {
            this.resolver = resolver;
            return this;
        }

        Context conclude() {
            if (port < 0 || port > 65535) {
                throw new IllegalStateException("port must be 0..65535, was " + port);
            }
            if (ioThreads < 1 || linksPerPeer < 1 || maxAttempts < 1) {
                throw new IllegalStateException("ioThreads, linksPerPeer and maxAttempts must be at least 1");
            }
            if (connectTimeoutMillis < 1 || stallTimeoutMillis < 4) {
                throw new IllegalStateException("timeouts must be positive");
            }
            if (advertise == null || advertise.isEmpty()) {
                if (bindHost.equals("0.0.0.0")) {
                    throw new IllegalStateException("an engine bound to 0.0.0.0 must be told which addresses to advertise");
                }
                advertise = List.of(bindHost);
            }
            if (ioBackend == null) {
                ioBackend = dev.ferry.transfer.transport.tcp.IoBackend.configured();
            }
            if (security == null) {
                security = dev.ferry.transfer.tls.PortSecurity.process();
            }
            if (aeron) {
                security.checkAeron(bindHost);
            }
            if (notifications == null) {
                notifications = (segment, message) -> { };
            }
            if (sprayPolicy == null) {
                sprayPolicy = new EarliestFinishPolicy();
            }
            if (resolver == null) {
                resolver = name -> {
                    throw new TransferException("unknown segment '" + name + "'", false);
                };
            }
            return this;
        }
    }
}
