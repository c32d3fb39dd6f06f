package dev.ferry.store.node;

/**
 * Method numbers of a store node's own RPC server, which readers call (the master is not
 * involved):
 * <ul>
 *   <li>1 LOAD: key (i64), offset (i64), length (i64), crc (i32) -> empty. Copies the block
 *       from the node's SSD tier into its DRAM segment at {@code offset}, the range the
 *       master allocated for the promotion (see {@code Replica#needsLoad}); REFUSED with the
 *       reason when the node has no intact copy on SSD.</li>
 * </ul>
 */
public final class NodeProtocol {
    public static final int LOAD = 1;

    private NodeProtocol() {
    }
}
