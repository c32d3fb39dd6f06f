package dev.ferry.transfer.transport;

import java.util.concurrent.CompletableFuture;

/**
 * Where a transport hands the {@link dev.ferry.transfer.transport.frame.SliceFrame#FENCE_SESSION}
 * requests it serves: the engine's Aeron receiver, which alone can stop an Aeron session's
 * requests from reaching a segment. An engine without Aeron uses {@link #NONE}.
 *
 * <p>Implementations are thread-safe and never block.
 */
@FunctionalInterface
public interface SessionFences {
    /** For an engine without an Aeron transport: no Aeron session can write here, so every fence holds at once. */
    SessionFences NONE = (sessionId, replyEndpoint) -> CompletableFuture.completedFuture(null);

    /**
     * Fences one Aeron session of an initiator.
     *
     * @param sessionId     the Aeron session id of the initiator's lost publication
     * @param replyEndpoint the reply endpoint that session's requests name ({@code HOST:PORT} or {@code ipc:STREAM})
     * @return completes once no request of that session can reach a segment any more
     */
    CompletableFuture<Void> fence(int sessionId, String replyEndpoint);
}
