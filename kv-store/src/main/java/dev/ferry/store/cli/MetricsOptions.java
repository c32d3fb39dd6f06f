package dev.ferry.store.cli;

import picocli.CommandLine.Option;

/**
 * Where a master or store node serves {@code /metrics}, {@code /health} and {@code /ready}
 * over HTTP (a picocli mixin): {@code --metrics-port N} (none: not served; 0 picks a free
 * port) and {@code --metrics-host ADDR} (default: the address the process binds for its own
 * service). Not thread-safe; read once at start.
 */
public final class MetricsOptions {
    @Option(names = "--metrics-port", paramLabel = "N", description = "Serve /metrics (Prometheus text), /health "
            + "and /ready over HTTP on this port; 0 picks a free one (default: not served).")
    Integer port;

    @Option(names = "--metrics-host", paramLabel = "ADDR", description = "Address the metrics port binds (default: "
            + "the address this process serves on).")
    String host;

    /** @return whether {@code --metrics-port} was given */
    public boolean enabled() {
        return port != null;
    }

    /**
     * @return the port to bind, 0 for a free one
     * @throws IllegalArgumentException when out of 0..65535 or not enabled
     */
    public int port() {
        if (port == null || port < 0 || port > 65535) {
            throw new IllegalArgumentException("--metrics-port must be 0..65535, got " + port);
        }
        return port;
    }

    /** @return the address to bind: {@code --metrics-host}, else {@code serviceHost} */
    public String host(String serviceHost) {
        return host != null ? host : serviceHost;
    }
}
