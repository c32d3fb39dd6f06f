package dev.ferry.transfer.transport.aeron;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.exceptions.RegistrationException;
import java.util.ArrayDeque;

/**
 * The publication that answers to one reply endpoint go on ({@code HOST:PORT} over UDP,
 * {@code ipc:STREAM} over IPC), with the answers waiting for it in order. The receiver asks
 * for the publication when a request first names the endpoint, without waiting for the
 * media driver ({@code asyncAddPublication}); the sender takes it once the driver has made it.
 *
 * <p>Not thread-safe: the queue, the publication and {@link #registered} belong to the
 * sender; {@link #failed} is read by the receiver, which then asks for a new channel.
 */
final class AnswerChannel {
    final String reply;
    final long registrationId;
    final ArrayDeque<PendingAnswer> queue = new ArrayDeque<>();
    private Publication publication;
    boolean registered;
    /** The driver refused the publication: the receiver makes a new channel for the next request. */
    volatile boolean failed;

    AnswerChannel(String reply, long registrationId) {
        this.reply = reply;
        this.registrationId = registrationId;
    }

    /** The publication, or null while the media driver is still making it (or it failed). Sender only. */
    Publication publication(Aeron aeron) {
        if (publication == null && !failed) {
            try {
                publication = aeron.getPublication(registrationId);
            } catch (RegistrationException e) {
                failed = true;
            }
        }
        return publication;
    }
}
