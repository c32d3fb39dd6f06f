package dev.ferry.transfer.transport.aeron;

import dev.ferry.transfer.segment.AeronIpc;
import dev.ferry.transfer.segment.Endpoint;
import java.util.List;

/**
 * Which peer a set of Aeron links goes to, and by which path: its IPC stream on this engine's
 * media driver, or its UDP endpoints. The key of {@link AeronTransport}'s links; values, so
 * equal peers are equal. Immutable.
 */
public sealed interface AeronPeer {
    /** A peer on this engine's media driver, reached over {@code aeron:ipc}. */
    record Ipc(AeronIpc address) implements AeronPeer {
        public Ipc {
            if (address == null) {
                throw new IllegalArgumentException("an IPC peer has an address");
            }
        }
    }

    /** A peer reached over UDP, one link per endpoint. */
    record Udp(List<Endpoint> endpoints) implements AeronPeer {
        public Udp {
            endpoints = List.copyOf(endpoints);
        }
    }
}
