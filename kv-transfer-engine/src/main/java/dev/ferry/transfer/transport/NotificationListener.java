package dev.ferry.transfer.transport;

/**
 * Receives the notifications peers send to this node ({@code TransferEngine.notify}). Called
 * on an I/O thread, in the order they arrive on each link: must not block.
 */
@FunctionalInterface
public interface NotificationListener {
    /**
     * @param segment the segment the message is about (as the sender named it)
     * @param message the message, at most 64 KiB; owned by the listener
     */
    void onNotification(String segment, byte[] message);
}
