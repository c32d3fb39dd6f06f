package dev.ferry.store.sidecar;

import dev.ferry.transfer.tls.PortSecurity;
import dev.ferry.transfer.tls.TlsConfig;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import javax.net.ssl.SSLSocket;

/**
 * A blocking TLS connection seen as a {@link ByteChannel}, for {@link SidecarClient}: a JDK
 * {@link SSLSocket} whose writes are buffered into records of up to 64 KiB, flushed at the end
 * of each {@link #write}.
 *
 * <p>Not thread-safe: its client serializes calls. Owns a socket: close it.
 */
final class TlsSocketChannel implements ByteChannel {
    private static final int BUFFER_BYTES = 64 * 1024;

    private final SSLSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] chunk = new byte[BUFFER_BYTES];

    private TlsSocketChannel(SSLSocket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), BUFFER_BYTES);
        this.out = new BufferedOutputStream(socket.getOutputStream(), BUFFER_BYTES);
    }

    /**
     * Connects and completes the handshake.
     *
     * @throws UncheckedIOException naming the address and why it failed
     */
    static TlsSocketChannel connect(String host, int port, TlsConfig tls) {
        SSLSocket socket = null;
        try {
            socket = (SSLSocket) tls.clientContext().getSocketFactory().createSocket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(host, port));
        } catch (IOException e) {
            closeQuietly(socket);
            throw new UncheckedIOException("cannot connect to the sidecar at " + host + ":" + port + ": "
                    + e.getMessage(), e);
        }
        try {
            socket.startHandshake();
            return new TlsSocketChannel(socket);
        } catch (IOException e) {
            closeQuietly(socket);
            throw new UncheckedIOException("cannot connect to the sidecar at " + host + ":" + port + ": "
                    + PortSecurity.handshakeFailure(e), e);
        }
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        int n = in.read(chunk, 0, Math.min(chunk.length, dst.remaining()));
        if (n > 0) {
            dst.put(chunk, 0, n);
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int written = src.remaining();
        while (src.hasRemaining()) {
            int n = Math.min(chunk.length, src.remaining());
            src.get(chunk, 0, n);
            out.write(chunk, 0, n);
        }
        out.flush();
        return written;
    }

    @Override
    public boolean isOpen() {
        return !socket.isClosed();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    private static void closeQuietly(SSLSocket socket) {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing after a failure
            }
        }
    }
}
