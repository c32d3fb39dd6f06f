package dev.ferry.transfer.transport.aeron;

import java.util.concurrent.CompletableFuture;

/**
 * A {@link dev.ferry.transfer.transport.frame.SliceFrame#FENCE_SESSION} on its way out on a
 * link: queued by whoever fences, offered by the sender (on a link that is down too), answered
 * through the receiver. Immutable but for its outcome; thread-safe.
 *
 * @param id      what the message carries as its slice id; the answer names it
 * @param session the lost session to fence
 * @param reply   the reply endpoint that session's requests named
 * @param acked   completes on the answer; exceptionally if the offer fails
 */
record OutgoingFence(long id, int session, String reply, CompletableFuture<Void> acked) {
}
