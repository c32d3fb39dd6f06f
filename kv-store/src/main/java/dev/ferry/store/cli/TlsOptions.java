package dev.ferry.store.cli;

import dev.ferry.transfer.tls.PortSecurity;
import dev.ferry.transfer.tls.TlsConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * How a process authenticates the peers of its TCP ports (a picocli mixin of the master, the
 * store node, the sidecar and the prefill and decode nodes): {@code --tls-dir DIR} (its
 * {@code ca.pem}, {@code cert.pem}, {@code key.pem}; default {@code $FERRY_TLS_DIR}), or the
 * three files one by one, or {@code --insecure-no-tls}. Without any, ports bind loopback only.
 * Not thread-safe; read once at start.
 */
public final class TlsOptions {
    @Option(names = "--tls-dir", paramLabel = "DIR", defaultValue = "${env:FERRY_TLS_DIR}", description = "Mutual "
            + "TLS 1.3 on every TCP port served and connection made, with DIR/ca.pem (the cluster CA), DIR/cert.pem "
            + "and DIR/key.pem ('ferry ca' makes them); default $FERRY_TLS_DIR. Needed to bind beyond loopback.")
    Path dir;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "The cluster CA's certificate, PEM (with "
            + "--tls-cert and --tls-key, instead of --tls-dir).")
    Path ca;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "This process's certificate chain, PEM.")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "This process's private key, PKCS#8 PEM.")
    Path key;

    @Option(names = "--insecure-no-tls", description = "Serve plain TCP beyond loopback (and Aeron UDP): for a "
            + "network you trust, since any peer that reaches a port can then use it.")
    boolean insecure;

    /**
     * The security these flags ask for.
     *
     * @throws IllegalArgumentException for flags that do not go together, or TLS files that do not load
     */
    public PortSecurity security() {
        boolean files = ca != null || cert != null || key != null;
        if (files && (ca == null || cert == null || key == null)) {
            throw new IllegalArgumentException("--tls-ca, --tls-cert and --tls-key go together");
        }
        if (files && dir != null) {
            throw new IllegalArgumentException("give --tls-dir or --tls-ca/--tls-cert/--tls-key, not both"
                    + (System.getenv("FERRY_TLS_DIR") != null ? " ($FERRY_TLS_DIR is set)" : ""));
        }
        if (insecure && (files || dir != null)) {
            throw new IllegalArgumentException("--insecure-no-tls turns TLS off: give it without --tls-dir "
                    + "(or unset $FERRY_TLS_DIR) and the --tls-* files");
        }
        if (files) {
            return PortSecurity.tls(TlsConfig.load(ca, cert, key));
        }
        if (dir != null) {
            return PortSecurity.tls(TlsConfig.fromDir(dir));
        }
        return insecure ? PortSecurity.insecure() : PortSecurity.loopbackOnly();
    }

    /**
     * Makes {@link #security()} this process's ({@link PortSecurity#install}): a command calls
     * it first, before it opens a port or a connection.
     */
    public PortSecurity install() {
        PortSecurity security = security();
        PortSecurity.install(security);
        return security;
    }

    /** These flags as arguments for a child process of the same cluster. */
    public List<String> arguments() {
        List<String> args = new ArrayList<>();
        if (dir != null) {
            args.addAll(List.of("--tls-dir", dir.toString()));
        }
        if (ca != null) {
            args.addAll(List.of("--tls-ca", ca.toString(), "--tls-cert", String.valueOf(cert), "--tls-key",
                    String.valueOf(key)));
        }
        if (insecure) {
            args.add("--insecure-no-tls");
        }
        return args;
    }
}
