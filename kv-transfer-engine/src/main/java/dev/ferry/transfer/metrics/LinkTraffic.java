package dev.ferry.transfer.metrics;

/**
 * What one link of a transfer engine has carried since the engine started: a snapshot of its
 * counters. Shared memory is one entry per engine (link {@code shared-memory}): its copies
 * go through no link. Immutable; thread-safe.
 *
 * @param transport {@link #TCP}, {@link #AERON} (UDP), {@link #AERON_IPC} (a media driver
 *                  shared with the peer) or {@link #SHARED_MEMORY}
 * @param link      the link's name (its peer and index), or {@code shared-memory}
 * @param bytes     bytes completed on the link, both directions (WRITE and READ payloads)
 * @param slices    slices completed on the link (for shared memory: copies)
 * @param failures  slices that failed on the link (lost with its connection, stalled, garbled) and
 *                  were resent or failed their request; 0 for shared memory
 */
public record LinkTraffic(String transport, String link, long bytes, long slices, long failures) {
    public static final String TCP = "tcp";
    public static final String AERON = "aeron";
    public static final String AERON_IPC = "aeron-ipc";
    public static final String SHARED_MEMORY = "shm";

    /** Every transport name, in the order reports list them. */
    public static final java.util.List<String> TRANSPORTS = java.util.List.of(TCP, AERON, AERON_IPC, SHARED_MEMORY);

    /** A link with no failures counted. */
    public LinkTraffic(String transport, String link, long bytes, long slices) {
        this(transport, link, bytes, slices, 0);
    }
}
