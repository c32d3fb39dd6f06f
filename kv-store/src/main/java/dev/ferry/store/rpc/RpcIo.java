package dev.ferry.store.rpc;

import dev.ferry.transfer.transport.tcp.IoBackend;
import dev.ferry.transfer.transport.tcp.IoSelection;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.SocketChannel;

/**
 * The I/O backend of an {@link RpcServer}'s or {@link RpcClient}'s event loop: Linux epoll by
 * default, falling back to the JDK's NIO selector where Netty's native library does not load
 * ({@link IoSelection}), as the transfer engine's TCP transport does. A master call is a
 * small request and answer, so its time is the thread wake-ups of its hops, not the backend:
 * on loopback epoll and NIO were level on a quiet machine (docs/benchmarks.md, "Master
 * round trip").
 *
 * <p>Immutable; thread-safe.
 *
 * @param backend the backend the loop runs on
 */
record RpcIo(IoBackend backend) {
    /**
     * The system property that names the backend of the RPC servers and clients created after
     * it is set ({@code epoll}, {@code nio}, {@code uring}); epoll when unset.
     */
    static final String PROPERTY = "ferry.rpc.io";

    /**
     * The backend {@link #PROPERTY} names, or epoll, falling back as {@link IoSelection#select} does.
     *
     * @throws IllegalArgumentException when the property names no backend
     */
    static RpcIo configured() {
        String name = System.getProperty(PROPERTY, "");
        return new RpcIo(IoSelection.select(name.isBlank() ? IoBackend.EPOLL : IoBackend.parse(name)).used());
    }

    /** A group of {@code threads} event loops on this backend. */
    EventLoopGroup group(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, backend.handlerFactory());
    }

    /** The channel class of a connection. */
    Class<? extends SocketChannel> socketChannel() {
        return backend.socketChannel();
    }

    /** The channel class of a server socket. */
    Class<? extends ServerChannel> serverChannel() {
        return backend.serverChannel();
    }
}
