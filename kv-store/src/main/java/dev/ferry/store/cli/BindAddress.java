package dev.ferry.store.cli;

import picocli.CommandLine.ITypeConverter;

/**
 * An address a process binds, {@code host:port}, written on a command line; port 0 picks a
 * free one.
 *
 * @param host name or address
 * @param port 0..65535
 */
public record BindAddress(String host, int port) {
    /** @throws IllegalArgumentException naming the bad text */
    public static BindAddress parse(String text) {
        int colon = text.lastIndexOf(':');
        try {
            int port = Integer.parseInt(text.substring(colon + 1));
            if (colon < 1 || port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return new BindAddress(text.substring(0, colon), port);
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            throw new IllegalArgumentException("expected host:port (port 0 picks one), got '" + text + "'");
        }
    }

    @Override
    public String toString() {
        return host + ":" + port;
    }

    /** Reads an option's value with {@link #parse(String)}. */
    public static final class Converter implements ITypeConverter<BindAddress> {
        @Override
        public BindAddress convert(String value) {
            return parse(value);
        }
    }
}
