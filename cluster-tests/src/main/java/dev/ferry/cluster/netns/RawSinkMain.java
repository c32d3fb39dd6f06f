package dev.ferry.cluster.netns;

import dev.ferry.store.cli.ProcessSupport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * The physical baseline of the link tests: accepts TCP connections on every interface and
 * reads whatever arrives into a buffer, one thread per connection, as fast as the links
 * deliver. Prints {@code FERRY-READY port=P}; runs until stdin closes.
 */
public final class RawSinkMain {
    private RawSinkMain() {
    }

    public static void main(String[] args) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("0.0.0.0", 0));
        Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    SocketChannel c = server.accept();
                    Thread.ofPlatform().daemon().start(() -> drain(c));
                }
            } catch (IOException closed) {
                // shutting down
            }
        });
        ProcessSupport.announceReady("role=raw-sink port=" + ((InetSocketAddress) server.getLocalAddress()).getPort());
        ProcessSupport.runUntilStopped(server, acceptor::interrupt);
    }

    private static void drain(SocketChannel c) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
        try (c) {
            while (c.read(buffer.clear()) >= 0) {
                // discard: only the link's rate matters
            }
        } catch (IOException ignored) {
            // peer closed
        }
    }
}
