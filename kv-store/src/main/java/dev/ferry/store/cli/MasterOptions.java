package dev.ferry.store.cli;

import picocli.CommandLine.Option;

/**
 * How a process reaches the master (a picocli mixin of the store node, the sidecar and the
 * prefill and decode nodes): {@code --master HOST:PORT} and {@code --master-reconnect-ms}.
 * Not thread-safe; read once at start.
 */
public final class MasterOptions {
    @Option(names = "--master", paramLabel = "HOST:PORT", description = "Master RPC address (store-node: required; "
            + "sidecar: default an embedded master; prefill, decode: this or --sidecar).")
    String address;

    @Option(names = "--master-reconnect-ms", paramLabel = "MS", defaultValue = "5000", description = "How long a "
            + "call to the master keeps trying to reach a master that went away (a restart), ms (default "
            + "${DEFAULT-VALUE}).")
    long reconnectMillis;

    /** @return the master's address as given, host:port, or null when none was given */
    public String address() {
        return address;
    }

    /** @return how long a call keeps trying to reach a master that went away, ms */
    public long reconnectMillis() {
        return reconnectMillis;
    }
}
