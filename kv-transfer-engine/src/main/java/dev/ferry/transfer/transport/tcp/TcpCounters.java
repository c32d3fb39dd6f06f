package dev.ferry.transfer.transport.tcp;

import java.util.concurrent.atomic.LongAdder;

/** Counters of the TCP transport's serving side. Thread-safe. */
public final class TcpCounters {
    final LongAdder bytesWritten = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder malformedFrames = new LongAdder();
    final LongAdder crcMismatches = new LongAdder();
    final LongAdder connectionErrors = new LongAdder();

    /** Bytes written into local segments by peers. */
    public long bytesWritten() {
        return bytesWritten.sum();
    }

    /** Bytes read out of local segments by peers. */
    public long bytesRead() {
        return bytesRead.sum();
    }

    /** Frames refused as malformed (each closed its connection). */
    public long malformedFrames() {
        return malformedFrames.sum();
    }

    /** WRITE payloads refused for a CRC32C mismatch. */
    public long crcMismatches() {
        return crcMismatches.sum();
    }

    /** Connections closed after an I/O error. */
    public long connectionErrors() {
        return connectionErrors.sum();
    }
}
