package dev.ferry.store.client;

/**
 * @param written       blocks written and committed by this put
 * @param existed       blocks already in the store (nothing written)
 * @param bytes         bytes moved by the transfer engine
 * @param transferNanos time spent in WRITE transfers, ns
 */
public record PutResult(int written, int existed, long bytes, long transferNanos) {
}
