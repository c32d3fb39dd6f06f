package dev.ferry.store.client;

import dev.ferry.store.master.MasterApi;
import dev.ferry.store.master.Replica;
import dev.ferry.store.rpc.RpcException;

/**
 * The one rule for a copy whose bytes a reader found not matching its committed CRC32C: the
 * master is told, and drops it ({@link dev.ferry.store.master.Master#dropCorrupt}).
 */
final class CorruptCopies {
    private CorruptCopies() {
    }

    /**
     * Reports {@code copy} to the master; best effort: when the master cannot be reached the
     * reader still never hands the bytes over, and the node's scrub reports the copy later.
     */
    static void report(MasterApi master, Replica copy) {
        try {
            master.dropCorrupt(copy.key(), copy.segment(), copy.offset(), copy.crc32c());
        } catch (RpcException unreachable) {
            // see above
        }
    }
}
