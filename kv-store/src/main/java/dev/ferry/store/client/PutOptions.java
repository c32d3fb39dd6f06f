package dev.ferry.store.client;

/**
 * How a put places and keeps its blocks.
 *
 * @param replicas         copies wanted per block, each on a different node (at least 1); fewer
 *                         are placed when fewer nodes have room
 * @param hardPin          whether the blocks are pinned against eviction once committed (until
 *                         unpinned or removed)
 * @param softPinMillis    a soft pin of the blocks once committed, ms from the commit (0 for
 *                         none): until it ends they are evicted only when no unpinned block can
 *                         be; a later soft pin extends, never shortens, one
 * @param preferredSegment segment for the first copy when it has room, by segment name, node
 *                         id or data address {@code host:port}; null for the writer's own
 */
public record PutOptions(int replicas, boolean hardPin, long softPinMillis, String preferredSegment) {
    /** One copy, no pin: what a put without options does. */
    public static final PutOptions DEFAULT = new PutOptions(1, false);

    /** Most copies one put may ask for. */
    public static final int MAX_REPLICAS = 64;

    /**
     * @throws IllegalArgumentException when replicas is outside 1..{@value #MAX_REPLICAS} or
     *                                  softPinMillis is negative
     */
    public PutOptions {
        if (replicas < 1 || replicas > MAX_REPLICAS) {
            throw new IllegalArgumentException("replicas must be 1 to " + MAX_REPLICAS + ", not " + replicas);
        }
        if (softPinMillis < 0) {
            throw new IllegalArgumentException("softPinMillis must be 0 (none) or more, not " + softPinMillis);
        }
        if (preferredSegment != null && preferredSegment.isEmpty()) {
            preferredSegment = null;
        }
    }

    /** {@code replicas} copies, a hard pin or none, no soft pin, the writer's own segment first. */
    public PutOptions(int replicas, boolean hardPin) {
        this(replicas, hardPin, 0, null);
    }
}
