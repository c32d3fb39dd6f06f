package dev.ferry.transfer.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * One process's TLS identity in its cluster: the cluster CA's certificate (PEM), this
 * process's certificate chain (PEM) and its private key (PKCS#8 PEM, unencrypted), as
 * {@code ferry ca} writes them ({@code ca.pem}, {@code cert.pem}, {@code key.pem} of one
 * directory).
 *
 * <p>Both sides authenticate (mutual TLS): a server requires a client certificate, and each
 * side accepts a peer only if the cluster CA signed its certificate. Host names are not
 * checked: every holder of a certificate of the cluster CA is a member of the cluster, as
 * with etcd's peer certificates without {@code --peer-cert-allowed-cn}. A CA is therefore one
 * cluster's; do not share it between clusters (docs/operations.md, "Authenticated ports").
 *
 * <p>TLS 1.3 only, on the JDK's provider (netty-tcnative is not a dependency), AES-128-GCM
 * preferred (the fastest suite with AES-NI).
 *
 * <p>Immutable and thread-safe; the contexts are built once, at {@link #load}.
 */
public final class TlsConfig {
    /** File names inside a TLS directory. */
    public static final String CA_FILE = "ca.pem";
    /** The process's certificate chain inside a TLS directory. */
    public static final String CERT_FILE = "cert.pem";
    /** The process's private key inside a TLS directory. */
    public static final String KEY_FILE = "key.pem";

    private static final List<String> PROTOCOLS = List.of("TLSv1.3");
    private static final List<String> CIPHERS = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256");

    private final Path ca;
    private final Path cert;
    private final Path key;
    private final SslContext server;
    private final SslContext client;

    private TlsConfig(Path ca, Path cert, Path key, SslContext server, SslContext client) {
        this.ca = ca;
        this.cert = cert;
        this.key = key;
        this.server = server;
        this.client = client;
    }

    /**
     * Loads {@code ca.pem}, {@code cert.pem} and {@code key.pem} of {@code dir}.
     *
     * @throws IllegalArgumentException naming the file that is missing or unreadable
     */
    public static TlsConfig fromDir(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("TLS directory " + dir + " does not exist (ferry ca makes one)");
        }
        return load(dir.resolve(CA_FILE), dir.resolve(CERT_FILE), dir.resolve(KEY_FILE));
    }

    /**
     * Loads a CA certificate, a certificate chain and its key, all PEM.
     *
     * @throws IllegalArgumentException naming the file that is missing, unreadable or not what it should be
     */
    public static TlsConfig load(Path ca, Path cert, Path key) {
        for (Path p : List.of(ca, cert, key)) {
            if (!Files.isReadable(p)) {
                throw new IllegalArgumentException("TLS file " + p + " is missing or unreadable");
            }
        }
        SslContext server;
        SslContext client;
        try {
            server = SslContextBuilder.forServer(cert.toFile(), key.toFile()).trustManager(ca.toFile())
                    .clientAuth(ClientAuth.REQUIRE).sslProvider(SslProvider.JDK).protocols(PROTOCOLS)
                    .ciphers(CIPHERS).build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot load TLS certificate " + cert + " with key " + key + " and CA "
                    + ca + ": " + e.getMessage(), e);
        }
        try {
            // "" turns host name checks off (Netty 4.2 turns them on for clients): the CA is the cluster's.
            client = SslContextBuilder.forClient().keyManager(cert.toFile(), key.toFile()).trustManager(ca.toFile())
                    .sslProvider(SslProvider.JDK).protocols(PROTOCOLS).ciphers(CIPHERS)
                    .endpointIdentificationAlgorithm("").build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot load TLS certificate " + cert + " with key " + key + " and CA "
                    + ca + ": " + e.getMessage(), e);
        }
        return new TlsConfig(ca, cert, key, server, client);
    }

    /** A handler that serves TLS on an accepted connection: first in its pipeline. */
    public SslHandler serverHandler(ByteBufAllocator alloc) {
        return server.newHandler(alloc);
    }

    /**
     * A handler that speaks TLS on a connection to {@code host:port}: first in its pipeline.
     *
     * @param host the peer's host, for session resumption (its name is not checked)
     */
    public SslHandler clientHandler(ByteBufAllocator alloc, String host, int port) {
        return client.newHandler(alloc, host, port);
    }

    /**
     * The client side as a JDK {@link SSLContext}, for clients that are not on Netty (a blocking
     * socket, the JDK's HttpClient). Its sockets check no host name unless the caller's own
     * SSLParameters ask for it (the JDK's HttpClient does).
     */
    public SSLContext clientContext() {
        return ((JdkSslContext) client).context();
    }

    /** The CA certificate file. */
    public Path caFile() {
        return ca;
    }

    /** The certificate chain file. */
    public Path certFile() {
        return cert;
    }

    /** The private key file. */
    public Path keyFile() {
        return key;
    }

    @Override
    public String toString() {
        return "TLS (CA " + ca + ", certificate " + cert + ")";
    }
}
