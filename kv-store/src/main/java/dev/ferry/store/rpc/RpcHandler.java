package dev.ferry.store.rpc;

import io.netty.buffer.ByteBuf;

/**
 * Serves the requests of one RPC server; an answer may also be deferred ({@link #handleLater}). Called on the server's executor (one call at a
 * time when that executor has one thread), or on its I/O thread for inline methods.
 */
@FunctionalInterface
public interface RpcHandler {
    /**
     * @param method  the method number of the request
     * @param request the payload; released by the caller after this returns
     * @param answer  a buffer to write the answer payload into
     * @throws RpcException to send an error answer with its status and text
     */
    void handle(int method, ByteBuf request, ByteBuf answer);

    /**
     * Serves a request whose answer may come later (a call that waits for another party).
     * The request must be read before this returns (it is released then); the answer buffer
     * may be written until the returned stage completes, and is sent then. A stage that fails
     * with an {@link RpcException} sends its status and text; any other failure INTERNAL.
     * The default serves the request at once with {@link #handle}.
     *
     * @return null when {@code answer} is complete now, else the stage that completes it
     * @throws RpcException to send an error answer at once
     */
    default java.util.concurrent.CompletionStage<?> handleLater(int method, ByteBuf request, ByteBuf answer) {
        handle(method, request, answer);
        return null;
    }
}
