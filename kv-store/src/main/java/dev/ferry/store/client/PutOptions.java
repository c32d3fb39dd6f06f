package dev.ferry.store.client;

/**
 * How a put places and keeps its blocks.
 *
 * @param replicas copies wanted per block, each on a different node (at least 1); fewer are
 *                 placed when fewer nodes have room
 * @param hardPin  whether the blocks are pinned against eviction once committed (until
 *                 unpinned or removed)
 */
public record PutOptions(int replicas, boolean hardPin) {
    /** One copy, no pin: what a put without options does. */
    public static final PutOptions DEFAULT = new PutOptions(1, false);

    /** Most copies one put may ask for. */
    public static final int MAX_REPLICAS = 64;

    /** @throws IllegalArgumentException when replicas is outside 1..{@value #MAX_REPLICAS} */
    public PutOptions {
        if (replicas < 1 || replicas > MAX_REPLICAS) {
            throw new IllegalArgumentException("replicas must be 1 to " + MAX_REPLICAS + ", not " + replicas);
        }
    }
}
