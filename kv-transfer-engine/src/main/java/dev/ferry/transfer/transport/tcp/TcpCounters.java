package dev.ferry.transfer.transport.tcp;

import dev.ferry.transfer.transport.serve.ServingCounters;
import java.util.concurrent.atomic.LongAdder;

/** Counters of the TCP transport's serving side. Thread-safe. */
public final class TcpCounters {
    private final ServingCounters serving;
    final LongAdder malformedFrames = new LongAdder();
    final LongAdder connectionErrors = new LongAdder();
    final LongAdder fencesServed = new LongAdder();
    final LongAdder fencedConnections = new LongAdder();

    TcpCounters(ServingCounters serving) {
        this.serving = serving;
    }

    /** Bytes written into local segments by peers. */
    public long bytesWritten() {
        return serving.bytesWritten();
    }

    /** Bytes read out of local segments by peers. */
    public long bytesRead() {
        return serving.bytesRead();
    }

    /** Frames refused as malformed (each closed its connection). */
    public long malformedFrames() {
        return malformedFrames.sum();
    }

    /** WRITE payloads (and notifications) refused for a CRC32C mismatch. */
    public long crcMismatches() {
        return serving.crcMismatches();
    }

    /** Requests refused: unknown segment, range outside it, over-long notification. */
    public long refusals() {
        return serving.refusals();
    }

    /** Connections closed after an I/O error. */
    public long connectionErrors() {
        return connectionErrors.sum();
    }

    /** FENCE frames answered: connections an initiator lost with WRITEs unanswered, closed here. */
    public long fencesServed() {
        return fencesServed.sum();
    }

    /** Connections closed on their HELLO because their token had been fenced before they arrived. */
    public long fencedConnections() {
        return fencedConnections.sum();
    }

    /** The counters of the serving core this transport shares with the others. */
    public ServingCounters serving() {
        return serving;
    }
}
