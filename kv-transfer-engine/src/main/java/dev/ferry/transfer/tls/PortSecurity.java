package dev.ferry.transfer.tls;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;

/**
 * What a process does about the peers of its TCP ports: one of three modes.
 * <ul>
 *   <li>{@link #loopbackOnly()} (the default): plain TCP, and a port may bind loopback only;</li>
 *   <li>{@link #tls(TlsConfig)}: every TCP connection, served or made, is mutual TLS 1.3;</li>
 *   <li>{@link #insecure()}: plain TCP on any address, for a network the operator trusts
 *       ({@code --insecure-no-tls}).</li>
 * </ul>
 * One rule, {@link #checkListen}: a port bound beyond loopback (a wildcard address included)
 * without TLS refuses to start. Aeron UDP carries no authentication, so it may leave loopback
 * only in the insecure mode ({@link #checkAeron}).
 *
 * <p>A process has one ({@link #process()}), installed by its command from its flags before it
 * opens a port, the way {@code SSLContext.setDefault} sets the JDK's; a component may be given
 * its own instead (tests do). Immutable and thread-safe.
 */
public final class PortSecurity {
    /** The flags that configure it, named in every refusal. */
    public static final String FLAGS = "--tls-dir DIR (or --tls-ca, --tls-cert, --tls-key; 'ferry ca' makes a "
            + "cluster CA), or --insecure-no-tls on a network you trust";

    private static final PortSecurity LOOPBACK_ONLY = new PortSecurity(null, false);
    private static final PortSecurity INSECURE = new PortSecurity(null, true);
    private static volatile PortSecurity process = LOOPBACK_ONLY;

    private final TlsConfig tls;
    private final boolean insecure;

    private PortSecurity(TlsConfig tls, boolean insecure) {
        this.tls = tls;
        this.insecure = insecure;
    }

    /** Plain TCP on loopback only (the default). */
    public static PortSecurity loopbackOnly() {
        return LOOPBACK_ONLY;
    }

    /** Plain TCP anywhere, Aeron UDP anywhere: for a network the operator trusts. */
    public static PortSecurity insecure() {
        return INSECURE;
    }

    /** Mutual TLS on every TCP connection. */
    public static PortSecurity tls(TlsConfig config) {
        return new PortSecurity(Objects.requireNonNull(config, "config"), false);
    }

    /** This process's mode: {@link #loopbackOnly()} until {@link #install} sets another. */
    public static PortSecurity process() {
        return process;
    }

    /** Sets this process's mode; a command calls it once, before it opens a port. */
    public static void install(PortSecurity security) {
        process = Objects.requireNonNull(security, "security");
    }

    /** Whether connections are TLS. */
    public boolean isTls() {
        return tls != null;
    }

    /** The TLS identity; null unless {@link #isTls()}. */
    public TlsConfig tlsConfig() {
        return tls;
    }

    /**
     * Refuses a listener beyond loopback without TLS (unless insecure).
     *
     * @param what the port's job, for the message, e.g. "the master RPC"
     * @throws IllegalStateException naming the address and the flags to give
     */
    public void checkListen(String what, String host, int port) {
        if (tls == null && !insecure && !isLoopback(host)) {
            throw new IllegalStateException(what + " on " + host + ":" + port + " would be reachable beyond loopback "
                    + "without authentication: give " + FLAGS);
        }
    }

    /**
     * Refuses Aeron UDP beyond loopback unless insecure: its frames carry no authentication,
     * and TLS does not cover UDP.
     *
     * @throws IllegalStateException naming the address
     */
    public void checkAeron(String host) {
        if (!insecure && !isLoopback(host)) {
            throw new IllegalStateException("Aeron UDP on " + host + " would be reachable beyond loopback, and its "
                    + "frames carry no authentication (TLS covers TCP only): leave out --aeron, or give "
                    + "--insecure-no-tls on a network you trust");
        }
    }

    /** Adds the server side of TLS first in an accepted channel's pipeline, if TLS is on. */
    public void serve(Channel ch) {
        if (tls != null) {
            ch.pipeline().addFirst("tls", tls.serverHandler(ch.alloc()));
        }
    }

    /**
     * Adds the client side of TLS first in a channel's pipeline, if TLS is on.
     *
     * @return its handler (await {@link SslHandler#handshakeFuture()}), or null without TLS
     */
    public SslHandler connect(Channel ch, String host, int port) {
        if (tls == null) {
            return null;
        }
        SslHandler handler = tls.clientHandler(ch.alloc(), host, port);
        ch.pipeline().addFirst("tls", handler);
        return handler;
    }

    /** Whether {@code host} resolves to a loopback address (an unknown or wildcard host does not). */
    public static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** The reason a TLS handshake failed, for a message: the deepest cause's text. */
    public static String handshakeFailure(Throwable cause) {
        Throwable t = cause;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return "TLS handshake failed: " + (t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage());
    }

    @Override
    public String toString() {
        return tls != null ? tls.toString() : insecure ? "plain TCP (insecure)" : "plain TCP, loopback only";
    }
}
