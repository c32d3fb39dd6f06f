package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.segment.AeronIpc;
import dev.ferry.transfer.segment.Endpoint;
import dev.ferry.transfer.segment.HostIdentity;
import dev.ferry.transfer.segment.LocalSegments;
import dev.ferry.transfer.slice.Opcode;
import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.slice.TransferException;
import dev.ferry.transfer.transport.NotificationListener;
import dev.ferry.transfer.transport.SliceListener;
import dev.ferry.transfer.transport.frame.FrameHeader;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.Image;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.logbuffer.Header;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The Aeron UDP transport of one engine. It launches an embedded media driver (SHARED
 * threading, its own directory), subscribes on {@code aeron:udp?endpoint=HOST:PORT}, and
 * polls that subscription on one thread ({@code ferry-aeron-poll}) for requests (served
 * against this node's segments, answered on a publication to the sender's endpoint) and for
 * answers (matched to the slices this engine sent). The poller also fails the slices that
 * got no answer within the stall timeout.
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
 * endpoint. The reply endpoint is {@code HOST:PORT} (UDP) or {@code ipc:STREAM}. Slices must fit one Aeron message (an eighth of the term length: 2 MiB with
 * the default 16 MiB terms; slices are at most 1 MiB).
 *
 * <p>Hot path: a message's head is written into a buffer reused per link (requests) or by
 * the poller (answers) and offered beside the payload where it lies; received bodies are
 * streamed fragment by fragment into their destination ({@link InboundMessage}); a
 * back-pressured offer spins, then yields and parks, rather than spin on a core the media
 * drivers need.
 *
 * <p>Thread-safe. Owns the driver, the client and the poller: close it.
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
    private final Subscription subscription;
    private final Subscription ipcSubscription;
    private final AeronIpc ipcAddress;
    private final Endpoint localEndpoint;
    private final byte[] replyTo;
    private final Offers offers;
    /** Links by peer: a list of UDP endpoints, or an {@link AeronIpc} address. */
    private final Map<AeronPeer, List<AeronLink>> peers = new ConcurrentHashMap<>();
    private final Map<Long, Outstanding> outstanding = new ConcurrentHashMap<>();
    private final long stallNanos;
    private final Thread poller;
    // Poller-only state: messages in progress per image.
    private final Int2ObjectHashMap<InboundMessage> inbound = new Int2ObjectHashMap<>();
    private final Int2ObjectHashMap<InboundMessage> ipcInbound = new Int2ObjectHashMap<>();
    /** Images that went away (a peer closed or died), handed from Aeron's conductor to the poller. */
    private final Queue<Image> goneImages = new ConcurrentLinkedQueue<>();
    private final RequestServer server;
    private volatile boolean running = true;

    /**
     * @param bindHost         address of the subscription (and of this node's replies)
     * @param stallTimeoutMillis a slice with no answer for this long fails (retryable), and
     *                           the longest wait on a back-pressured publication, ms
     * @param sharedDirectory  the directory of a media driver already running on this host,
     *                         shared with other engines, which are then reached over Aeron
     *                         IPC too; null launches an embedded driver of this engine's own
     * @throws IllegalStateException if the media driver or the subscription cannot start, or
     *                               no driver answers in {@code sharedDirectory}
     */
    public AeronTransport(LocalSegments segments, SliceListener listener, NotificationListener notifications,
                          String bindHost, long stallTimeoutMillis, String sharedDirectory) {
        this.listener = listener;
        this.offers = new Offers(TimeUnit.MILLISECONDS.toNanos(stallTimeoutMillis));
        this.stallNanos = TimeUnit.MILLISECONDS.toNanos(stallTimeoutMillis);
        this.driver = sharedDirectory != null ? null : MediaDrivers.launch(CommonContext.getAeronDirectoryName()
                + "-ferry-" + ProcessHandle.current().pid() + "-" + INSTANCES.incrementAndGet());
        String dir = sharedDirectory != null ? sharedDirectory : driver.aeronDirectoryName();
        Aeron client = null;
        try {
            client = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir));
            this.localEndpoint = new Endpoint(bindHost, freeUdpPort(bindHost));
            this.subscription = client.addSubscription("aeron:udp?endpoint=" + localEndpoint, STREAM_ID,
                    image -> { }, goneImages::add);
            if (sharedDirectory != null) {
                int stream = ThreadLocalRandom.current().nextInt(1 << 16, Integer.MAX_VALUE);
                this.ipcSubscription = client.addSubscription(IPC_CHANNEL, stream, image -> { }, goneImages::add);
                this.ipcAddress = new AeronIpc(HostIdentity.id() + ":" + Path.of(dir).toAbsolutePath().normalize(),
                        stream);
            } else {
                this.ipcSubscription = null;
                this.ipcAddress = null;
            }
        } catch (RuntimeException e) {
            if (client != null) {
                client.close();
            }
            if (driver != null) {
                driver.close();
            }
            throw new IllegalStateException("cannot start the Aeron transport on " + bindHost
                    + (sharedDirectory != null ? " with the media driver in " + sharedDirectory : "") + ": "
                    + e.getMessage(), e);
        }
        this.aeron = client;
        this.server = new RequestServer(segments, notifications, client, offers);
        this.replyTo = localEndpoint.toString().getBytes(StandardCharsets.US_ASCII);
        this.poller = Thread.ofPlatform().name("ferry-aeron-poll").daemon().start(this::poll);
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

    /**
     * The links to a peer's Aeron endpoints (one publication each), made on first use; waits
     * up to {@code connectMillis} for them to connect. Must not run on the poller.
     */
    public List<AeronLink> links(List<Endpoint> endpoints, long connectMillis) {
        AeronPeer.Udp peer = new AeronPeer.Udp(endpoints);
        return peers.computeIfAbsent(peer, key -> {
            List<AeronLink> links = peer.endpoints().stream().map(e -> new AeronLink(this, e.toString(), replyTo,
                    aeron.addPublication("aeron:udp?endpoint=" + e + PUBLICATION_PARAMS, STREAM_ID))).toList();
            awaitConnected(links, connectMillis);
            return links;
        });
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
     * The link to a peer on this engine's media driver: one IPC publication to its stream,
     * made on first use; waits up to {@code connectMillis} for it to connect. Must not run
     * on the poller.
     */
    public List<AeronLink> ipcLinks(AeronIpc address, long connectMillis) {
        return peers.computeIfAbsent(new AeronPeer.Ipc(address), key -> {
            byte[] reply = (IPC_REPLY + ipcAddress.streamId()).getBytes(StandardCharsets.US_ASCII);
            List<AeronLink> links = List.of(new AeronLink(this, "ipc:" + address.streamId(), reply,
                    aeron.addPublication(IPC_CHANNEL, address.streamId())));
            awaitConnected(links, connectMillis);
            return links;
        });
    }

    private static void awaitConnected(List<AeronLink> links, long connectMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(connectMillis);
        while (links.stream().anyMatch(l -> !l.publication.isConnected()) && System.nanoTime() < deadline) {
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    /**
     * Readmits the links to a peer (its UDP endpoints, or its {@link AeronIpc} address);
     * returns whether any of them is up (false: fail over to another transport).
     */
    public boolean reconnect(AeronPeer peer) {
        List<AeronLink> links = peers.get(peer);
        if (links == null) {
            return false;
        }
        boolean up = false;
        for (AeronLink link : links) {
            link.down = false;
            up |= link.isUp();
        }
        return up;
    }

    /** Sends a slice on {@code link}; one sender at a time per link (its head and payload view are reused). */
    void send(AeronLink link, Slice slice) {
        byte type = switch (slice.opcode()) {
            case WRITE -> SliceFrame.WRITE;
            case READ -> SliceFrame.READ;
            case NOTIFY -> SliceFrame.NOTIFY;
        };
        slice.markSent(System.nanoTime()); // before the poller's stall check can see it
        outstanding.put(slice.id(), new Outstanding(link, slice));
        link.inFlight.addAndGet(slice.length());
        String failure;
        synchronized (link) {
            UnsafeBuffer payload = null;
            int crc = 0;
            if (slice.opcode() != Opcode.READ) {
                MemorySegment bytes = slice.localBytes();
                crc = slice.payloadCrc();
                payload = wrap(link.payload, bytes);
            }
            DirectBuffer head = link.head.write(type, slice.id(), slice.targetOffset(), slice.length(), crc,
                    SliceFrame.Status.OK, link.name(slice.target()));
            failure = offers.offer(link.publication, head, payload, false);
        }
        if (failure != null) {
            if (outstanding.remove(slice.id()) != null) {
                link.inFlight.addAndGet(-slice.length());
                link.estimator.onFailed();
                link.down = true;
                listener.onFailed(slice, link, new TransferException(link.name + ": " + failure, true));
            }
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

    private void poll() {
        FragmentHandler udp = (buffer, offset, length, header) -> onFragment(inbound, buffer, offset, length, header);
        FragmentHandler ipc = (buffer, offset, length, header) -> onFragment(ipcInbound, buffer, offset, length,
                header);
        IdleStrategy idle = new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1),
                TimeUnit.MILLISECONDS.toNanos(1));
        long nextStallCheck = System.nanoTime() + stallNanos / 4;
        while (running) {
            try {
                int work = subscription.poll(udp, 64) + (ipcSubscription == null ? 0 : ipcSubscription.poll(ipc, 64));
                forgetGoneImages();
                long now = System.nanoTime();
                if (now - nextStallCheck >= 0) {
                    checkStalls(now);
                    nextStallCheck = now + stallNanos / 4;
                }
                idle.idle(work);
            } catch (RuntimeException e) {
                if (!running) {
                    return;
                }
            }
        }
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
                return;
            }
            if (in.isRequest()) {
                if (!in.sameReplyAsBefore(buffer, offset)) {
                    in.replyTo = server.answerPublication(in.rememberReply(buffer, offset));
                }
                server.head(in);
            } else {
                answerHead(in);
            }
            in.append(buffer, bodyAt, offset + length - bodyAt);
        } else if (in.active()) {
            in.append(buffer, offset, length);
        }
        if ((flags & FrameDescriptor.END_FRAG_FLAG) != 0 && in.active()) {
            in.end();
            if (in.isRequest()) {
                server.serve(in);
            } else {
                answer(in);
            }
        }
    }

    /** An answer's head is in: a READ's payload goes straight into the slice's local bytes. */
    private void answerHead(InboundMessage in) {
        FrameHeader header = in.header;
        if (header.status() != SliceFrame.Status.OK) {
            in.receiveIntoScratch();
            return;
        }
        if (header.type() == SliceFrame.READ_DATA) {
            Outstanding pending = outstanding.get(header.sliceId());
            Slice slice = pending == null ? null : pending.slice();
            if (slice != null && slice.length() == header.bodyLength()) {
                in.readSlice = slice;
                in.receiveInto(slice.localBytes());
            }
        }
    }

    /** An answer is in whole: completes or fails its slice. */
    private void answer(InboundMessage in) {
        FrameHeader header = in.header;
        Outstanding pending = outstanding.remove(header.sliceId());
        if (pending == null) {
            return; // a late answer: the slice failed here already
        }
        AeronLink link = pending.link();
        Slice slice = pending.slice();
        link.inFlight.addAndGet(-slice.length());
        SliceFrame.Status status = header.status();
        if (status != SliceFrame.Status.OK) {
            link.estimator.onFailed();
            listener.onFailed(slice, link, new TransferException(status + " from " + link.endpoint + ": "
                    + new String(in.scratchBytes(), StandardCharsets.UTF_8), status.retryable()));
            return;
        }
        if (header.type() == SliceFrame.READ_DATA && (in.readSlice != slice || !in.complete() || !in.kept()
                || in.crc() != header.crc())) {
            link.estimator.onFailed();
            listener.onFailed(slice, link, new TransferException("READ payload from " + link.endpoint
                    + " failed its CRC32C or length", true));
            return;
        }
        link.estimator.onCompleted(slice.length(), slice.sentNanos(), System.nanoTime());
        listener.onCompleted(slice, link);
    }

    /**
     * Fails every slice outstanding for longer than the stall timeout, marking its link down.
     * Runs on the poller, which also streams READ answers into slices: a slice is never
     * failed (and its buffer handed back) while its answer is being written into it.
     */
    private void checkStalls(long now) {
        for (Map.Entry<Long, Outstanding> e : outstanding.entrySet()) {
            AeronLink link = e.getValue().link();
            Slice slice = e.getValue().slice();
            if (now - slice.sentNanos() > stallNanos && outstanding.remove(e.getKey()) != null) {
                link.inFlight.addAndGet(-slice.length());
                link.estimator.onFailed();
                listener.onFailed(slice, link, new TransferException(link.name + " gave no answer for "
                        + TimeUnit.NANOSECONDS.toMillis(stallNanos) + " ms", true));
            }
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            poller.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        aeron.close();
        if (driver != null) {
            driver.close();
        }
    }

    /** A slice sent and not answered yet, with the link it went on. */
    private record Outstanding(AeronLink link, Slice slice) {
    }
}
