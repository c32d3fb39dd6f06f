package dev.ferry.store.rpc;

import io.netty.buffer.ByteBuf;

/**
 * Serves the requests of one RPC server. Called on the server's executor (one call at a
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
}
