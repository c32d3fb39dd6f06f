package dev.ferry.transfer.transport.frame;

/** A frame that cannot be parsed; the connection that sent it is closed. */
public final class MalformedFrameException extends RuntimeException {
    public MalformedFrameException(String message) {
        super(message);
    }
}
