package dev.ferry.transfer.segment;

/**
 * A host and port where a node's transfer engine accepts data links.
 *
 * @param host name or address, e.g. {@code 127.0.0.1}
 * @param port TCP port, 1..65535
 */
public record Endpoint(String host, int port) {
    public Endpoint {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be 1..65535, was " + port);
        }
    }

    @Override
    public String toString() {
        return host + ":" + port;
    }
}
