package dev.ferry.store.cli;

import picocli.CommandLine.Option;

/**
 * {@code --data HOST:PORT}, where a store node or sidecar serves its slab to the transfer
 * engines of its peers (a picocli mixin, so that the flag reads the same in both). Not
 * thread-safe; read once at start.
 */
public final class DataOption {
    /** The address without --data: loopback, a free port. */
    public static final BindAddress DEFAULT = new BindAddress("127.0.0.1", 0);

    private BindAddress address = DEFAULT;

    @Option(names = "--data", paramLabel = "HOST:PORT", converter = BindAddress.Converter.class,
            description = "Transfer engine address: peers read and write this node's slab there; port 0 picks a "
                    + "free one (default 127.0.0.1:0).")
    void data(BindAddress value) {
        address = value;
    }

    /** @return the transfer engine's address */
    public BindAddress address() {
        return address;
    }

    /** Sets the host alone (a deprecated flag of the store node). */
    public void host(String host) {
        address = new BindAddress(host, address.port());
    }

    /** Sets the port alone (a deprecated flag of the store node). */
    public void port(int port) {
        address = new BindAddress(address.host(), port);
    }
}
