package dev.ferry.store.cli;

import picocli.CommandLine.Option;

/**
 * Where a process serves its RPC (a picocli mixin of the master and the prefill and decode
 * nodes): {@code --host ADDR} and {@code --port N}, 0 picking a free port. Not thread-safe;
 * read once at start.
 */
public final class ListenOptions {
    @Option(names = "--host", paramLabel = "ADDR", defaultValue = "127.0.0.1", description = "Address to bind "
            + "(default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", paramLabel = "N", defaultValue = "0", description = "RPC port; 0 picks a free one "
            + "(default ${DEFAULT-VALUE}).")
    int port;

    /** @return the address to bind */
    public String host() {
        return host;
    }

    /** @return the RPC port; 0 picks a free one */
    public int port() {
        return port;
    }
}
