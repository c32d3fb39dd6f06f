package dev.ferry.transfer.transport.tcp;

import java.util.List;

/**
 * The links to one peer (over one or more of its endpoints). A link that is down is
 * quarantined: probed by reconnects with exponential backoff from
 * {@code reconnectBackoffNanos}, and readmitted when a connect succeeds.
 *
 * <p>Thread-safe. Connecting blocks: never call it on an event loop.
 */
final class TcpPeer {
    private final List<TcpLink> links;
    private final long connectTimeoutMillis;
    private final long reconnectBackoffNanos;
    private boolean attempted;

    TcpPeer(List<TcpLink> links, long connectTimeoutMillis, long reconnectBackoffNanos) {
        this.links = List.copyOf(links);
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.reconnectBackoffNanos = reconnectBackoffNanos;
    }

    List<TcpLink> links() {
        return links;
    }

    /** Reconnects the links that are down and past their backoff; returns whether any link is up. */
    synchronized boolean reconnectDown() {
        attempted = true;
        long now = System.nanoTime();
        boolean up = false;
        for (TcpLink link : links) {
            if (!link.isUp() && link.mayReconnect(now, reconnectBackoffNanos)) {
                link.connect(connectTimeoutMillis);
            }
            up |= link.isUp();
        }
        return up;
    }

    /** Connects every link unless a connect was tried before (links that went down since wait for the prober). */
    synchronized void connectFirst() {
        if (!attempted) {
            connectAll();
        }
    }

    /** Connects every link now; returns how many are up. */
    synchronized int connectAll() {
        attempted = true;
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
