package dev.ferry.store.rpc;

/**
 * The epoch a server stamps on its answers, and whether it may answer at all: a master
 * elected through etcd answers with its term's epoch while it leads and refuses every call
 * (with {@link RpcException#NOT_LEADER}) once it does not. Servers that are not masters, and
 * a master without etcd, answer with epoch 0 ({@link #NONE}).
 *
 * <p>Called on the server's I/O and executor threads for every request and answer: must be
 * cheap, non-blocking and thread-safe.
 */
@FunctionalInterface
public interface ServerEpoch {
    /** Always serves, epoch 0. */
    ServerEpoch NONE = () -> 0;

    /**
     * @return the epoch of the term this server serves now, >= 0
     * @throws RpcException {@link RpcException#NOT_LEADER} when it must not answer
     */
    long current();
}
