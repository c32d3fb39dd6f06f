package dev.ferry.store.client;

/**
 * @param blocks        blocks read
 * @param bytes         bytes moved by the transfer engine
 * @param transferNanos time spent in READ transfers, ns
 */
public record GetResult(int blocks, long bytes, long transferNanos) {
}
