package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.LinkEstimator;
import dev.ferry.transfer.transport.frame.SliceFrame;
import io.aeron.Publication;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One Aeron publication to a peer's subscription, used as a link. Sends go through its
 * {@link AeronTransport}; answers arrive on the transport's subscription. Thread-safe.
 */
final class AeronLink implements Link {
    final String name;
    final String endpoint;
    final Publication publication;
    final LinkEstimator estimator = new LinkEstimator();
    final AtomicLong inFlight = new AtomicLong();
    // Reused by one sender at a time, under the link's lock (AeronTransport.send).
    final MessageHead head;
    final UnsafeBuffer payload = new UnsafeBuffer(new byte[0]);
    private final AeronTransport transport;
    private String lastTarget = "";
    private byte[] lastTargetBytes = new byte[0];
    volatile boolean down;

    AeronLink(AeronTransport transport, String endpoint, byte[] replyTo, Publication publication) {
        this.transport = transport;
        this.endpoint = endpoint;
        this.publication = publication;
        this.name = "aeron:" + endpoint;
        this.head = new MessageHead(replyTo);
    }

    /** The frame bytes of a segment name; the last one is reused. Under the link's lock. */
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
        return !down && publication.isConnected();
    }

    @Override
    public long inFlightBytes() {
        return inFlight.get();
    }

    @Override
    public LinkEstimator estimator() {
        return estimator;
    }

    @Override
    public void send(Slice slice) {
        transport.send(this, slice);
    }
}
