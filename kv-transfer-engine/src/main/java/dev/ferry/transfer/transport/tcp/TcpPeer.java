package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.spray.SprayPolicy;
import dev.ferry.transfer.transport.Link;
import java.util.List;

/**
 * The links to one peer (over one or more of its endpoints). Links that are down are reconnected when a slice finds
 * no link up; a link whose connect failed is tried again only after {@code reconnectBackoffNanos}.
 *
 * <p>Thread-safe. {@link #select} may block for a connect and must not run on an event loop.
 */
final class TcpPeer {
    private final List<TcpLink> links;
    private final long connectTimeoutMillis;
    private final long reconnectBackoffNanos;

    TcpPeer(List<TcpLink> links, long connectTimeoutMillis, long reconnectBackoffNanos) {
        this.links = List.copyOf(links);
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.reconnectBackoffNanos = reconnectBackoffNanos;
    }

    List<TcpLink> links() {
        return links;
    }

    /** A link for a slice, reconnecting down links whose backoff has passed; null if none can be had. */
    Link select(SprayPolicy policy, int sliceBytes, Link avoid) {
        Link link = policy.select(links, sliceBytes, avoid);
        if (link != null) {
            return link;
        }
        synchronized (this) {
            long now = System.nanoTime();
            for (TcpLink candidate : links) {
                if (!candidate.isUp() && now - candidate.lastConnectFailureNanos() >= reconnectBackoffNanos) {
                    candidate.connect(connectTimeoutMillis);
                }
            }
        }
        return policy.select(links, sliceBytes, avoid);
    }

    /** Connects every link now; returns how many are up. */
    synchronized int connectAll() {
        int up = 0;
        for (TcpLink link : links) {
            if (link.connect(connectTimeoutMillis)) {
                up++;
            }
        }
        return up;
    }

    void close() {
        links.forEach(TcpLink::close);
    }
}
