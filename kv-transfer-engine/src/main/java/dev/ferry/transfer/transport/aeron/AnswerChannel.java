package dev.ferry.transfer.transport.aeron;

import io.aeron.Publication;
import java.util.ArrayDeque;

/**
 * The publication that answers to one reply endpoint go on ({@code HOST:PORT} over UDP,
 * {@code ipc:STREAM} over IPC), with the answers waiting for it in order. Made by the
 * receiver when a request first names the endpoint; its queue is the sender's alone.
 *
 * <p>Not thread-safe: the queue and {@link #registered} belong to the sender.
 */
final class AnswerChannel {
    final String reply;
    final Publication publication;
    final ArrayDeque<PendingAnswer> queue = new ArrayDeque<>();
    boolean registered;

    AnswerChannel(String reply, Publication publication) {
        this.reply = reply;
        this.publication = publication;
    }
}
