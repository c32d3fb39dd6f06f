package dev.ferry.transfer;

/**
 * Which transport a {@link TransferRequest} should take: a hint to the engine. The engine
 * follows it when the hinted transport reaches the target, and otherwise takes its own
 * choice, so a hint never makes a request fail. A segment of the same process is always
 * copied directly.
 */
public enum Transport {
    /** The engine's choice: shared memory on the same host, then Aeron when both ends serve it, then TCP. */
    AUTO,
    /** Map the target's backing file (same host only). */
    SHARED_MEMORY,
    /** The TCP links (Netty). */
    TCP,
    /** The Aeron UDP links (when this engine and the target serve Aeron). */
    AERON
}
