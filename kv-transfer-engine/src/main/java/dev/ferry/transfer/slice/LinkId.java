package dev.ferry.transfer.slice;

/**
 * What a slice knows of a link it was sent on: its identity, compared by reference, and its
 * name. Every transport link ({@code dev.ferry.transfer.transport.Link}) is one, so that a
 * slice can name the link it failed on without this package depending on the transports.
 */
public interface LinkId {
    /** A short stable name for metrics and logs, e.g. {@code tcp:127.0.0.1:7001#0}. */
    String name();
}
