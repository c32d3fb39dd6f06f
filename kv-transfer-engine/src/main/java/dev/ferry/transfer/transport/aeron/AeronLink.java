package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.slice.Slice;
import dev.ferry.transfer.transport.Link;
import dev.ferry.transfer.transport.LinkEstimator;
import io.aeron.Publication;
import java.util.concurrent.atomic.AtomicLong;

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
    private final AeronTransport transport;
    volatile boolean down;

    AeronLink(AeronTransport transport, String endpoint, Publication publication) {
        this.transport = transport;
        this.endpoint = endpoint;
        this.publication = publication;
        this.name = "aeron:" + endpoint;
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
