package dev.ferry.transfer.transport.tcp;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The serving side's record of which accepted connection carries which token
 * ({@link dev.ferry.transfer.transport.frame.SliceFrame#HELLO}), and which tokens initiators
 * have fenced ({@link dev.ferry.transfer.transport.frame.SliceFrame#FENCE}). Fencing a token
 * closes its connection; its future completes once the connection is closed, that is once its
 * event loop can read nothing more from it into a segment. A token fenced before its HELLO
 * arrives (the connection's bytes are still on their way) is remembered, so that the
 * connection is closed on its HELLO, before any WRITE behind it is read. The most recent
 * {@link #MAX_REMEMBERED} such tokens are remembered.
 *
 * <p>Thread-safe: one instance per TCP transport, shared by its connections.
 */
final class ConnectionFences {
    /** Fenced tokens not seen on any connection that are remembered (65,536, about 4 MiB). */
    static final int MAX_REMEMBERED = 65_536;

    private final Map<Long, Channel> live = new ConcurrentHashMap<>();
    private final Map<Long, Boolean> fenced = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Boolean> eldest) {
            return size() > MAX_REMEMBERED;
        }
    };

    /**
     * A connection said HELLO with {@code token}.
     *
     * @return false if the token was fenced already: the caller closes the connection
     */
    boolean hello(long token, Channel channel) {
        synchronized (fenced) {
            if (fenced.containsKey(token)) {
                return false;
            }
            live.put(token, channel);
            return true;
        }
    }

    /** The connection that said HELLO with {@code token} is closed. */
    void gone(long token, Channel channel) {
        live.remove(token, channel);
    }

    /**
     * Fences {@code token}: closes its connection if it is served here, else remembers it.
     *
     * @return completes once no byte read from that connection can reach a segment any more
     */
    CompletableFuture<Void> fence(long token) {
        Channel channel;
        synchronized (fenced) {
            channel = live.remove(token);
            if (channel == null) {
                fenced.put(token, Boolean.TRUE);
                return CompletableFuture.completedFuture(null);
            }
        }
        CompletableFuture<Void> closed = new CompletableFuture<>();
        ChannelFuture close = channel.close();
        close.addListener(f -> closed.complete(null));
        return closed;
    }
}
