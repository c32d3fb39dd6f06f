package dev.ferry.transfer.segment;

/**
 * Where an engine receives over Aeron IPC: the media driver it shares with other engines
 * of its host, and its own stream on that driver's {@code aeron:ipc} channel. Another
 * engine reaches it over IPC (through the driver's shared memory, no sockets) when it
 * runs on the same driver, i.e. when their {@code driver} strings are equal.
 *
 * @param driver   the host's boot id and the driver's directory, e.g. {@code 3f2a...:/dev/shm/aeron-ferry}
 * @param streamId the engine's IPC stream id, positive
 */
public record AeronIpc(String driver, int streamId) {
    public AeronIpc {
        if (driver == null || driver.isEmpty()) {
            throw new IllegalArgumentException("an IPC address names its driver");
        }
        if (streamId <= 0) {
            throw new IllegalArgumentException("stream id must be positive, was " + streamId);
        }
    }
}
