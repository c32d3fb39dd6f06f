package dev.ferry.transfer.transport.tcp;

import java.util.function.Function;

/**
 * The I/O backend a TCP transport was asked for and the one it runs on, with the reason when
 * they differ: io_uring falls back to epoll, epoll to NIO, each when it cannot run here.
 *
 * @param requested the backend asked for
 * @param used      the backend the transport runs on
 * @param fallback  why {@code used} is not {@code requested}, or null when it is
 */
public record IoSelection(IoBackend requested, IoBackend used, String fallback) {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(IoSelection.class);
    /** The fallbacks already logged: once per process each, not once per engine. */
    private static final java.util.Set<IoBackend> WARNED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * Picks the backend for {@code requested} in this process ({@link IoBackend#unavailability()});
     * a fallback is logged (a warning, once per process and backend asked for).
     */
    public static IoSelection select(IoBackend requested) {
        IoSelection s = select(requested, IoBackend::unavailability);
        if (s.fallback != null && WARNED.add(requested)) {
            LOG.warn("TCP I/O backend {} asked for, {} used: {}", requested.flag(), s.used.flag(), s.fallback);
        }
        return s;
    }

    /**
     * Picks the backend for {@code requested}: it, or the first after it in io_uring, epoll,
     * NIO order that can run; {@code unavailability} says why a backend cannot (null: it can).
     * NIO always can.
     */
    static IoSelection select(IoBackend requested, Function<IoBackend, String> unavailability) {
        StringBuilder why = new StringBuilder();
        IoBackend[] order = IoBackend.values();
        for (int i = requested.ordinal(); i < order.length; i++) {
            IoBackend b = order[i];
            String cause = b == IoBackend.NIO ? null : unavailability.apply(b);
            if (cause == null) {
                return new IoSelection(requested, b, why.isEmpty() ? null : why.toString());
            }
            if (!why.isEmpty()) {
                why.append("; ");
            }
            why.append(b.flag()).append(" unavailable: ").append(cause);
        }
        throw new AssertionError("NIO is always available");
    }

    /** For a ready line or log: {@code epoll}, or {@code epoll (uring unavailable: ...)}. */
    @Override
    public String toString() {
        return fallback == null ? used.flag() : used.flag() + " (" + fallback + ")";
    }
}
