package dev.ferry.store.node;

/**
 * A {@code host:port} address given on a command line.
 *
 * @param host name or address
 * @param port 1..65535
 */
public record HostPort(String host, int port) {
    /** @throws IllegalArgumentException naming the bad text */
    public static HostPort parse(String text) {
        int colon = text.lastIndexOf(':');
        try {
            int port = Integer.parseInt(text.substring(colon + 1));
            if (colon < 1 || port < 1 || port > 65535) {
                throw new NumberFormatException();
            }
            return new HostPort(text.substring(0, colon), port);
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            throw new IllegalArgumentException("expected host:port, got '" + text + "'");
        }
    }

    @Override
    public String toString() {
        return host + ":" + port;
    }
}
