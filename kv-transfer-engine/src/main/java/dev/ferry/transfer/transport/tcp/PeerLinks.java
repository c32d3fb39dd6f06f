package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.spray.SprayPolicy;
import dev.ferry.transfer.transport.Link;
import java.util.List;

/**
 * The TCP links to one peer, as the engine sees them: a list to spray over, and a select
 * that reconnects when none is up. Thread-safe; {@link #select} may block for a connect.
 */
public final class PeerLinks {
    private final TcpPeer peer;

    PeerLinks(TcpPeer peer) {
        this.peer = peer;
    }

    /** The links, up or down. */
    public List<? extends Link> links() {
        return peer.links();
    }

    /** A link for a slice of {@code sliceBytes} avoiding {@code avoid} when possible; null if none can be had. */
    public Link select(SprayPolicy policy, int sliceBytes, Link avoid) {
        return peer.select(policy, sliceBytes, avoid);
    }
}
