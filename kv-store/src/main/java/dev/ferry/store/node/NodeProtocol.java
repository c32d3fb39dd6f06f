package dev.ferry.store.node;

import dev.ferry.store.block.BlockKey;

/**
 * Method numbers of a store node's own RPC server, which readers call (the master is not
 * involved):
 * <ul>
 *   <li>2 LOAD: key (16 bytes, {@link dev.ferry.store.block.BlockKey}'s form), offset (i64),
 *       length (i64), crc (i32) -> empty. Copies the block
 *       from the node's SSD tier into its DRAM segment at {@code offset}, the range the
 *       master allocated for the promotion (see {@code Replica#needsLoad}); REFUSED with the
 *       reason when the node has no intact copy on SSD.</li>
 * </ul>
 * Method 1 was LOAD with an 8-byte key (earlier builds); a node refuses it naming the
 * mismatch ({@link #LEGACY_LOAD}).
 */
public final class NodeProtocol {
    public static final int LOAD = 2;
    /** LOAD of earlier builds (8-byte keys), refused. */
    public static final int LEGACY_LOAD = 1;

    private NodeProtocol() {
    }
}
