package dev.ferry.store.master;

/**
 * What a store node tells the master in a heartbeat.
 *
 * @param ackedSeq the last {@link IndexUpdate} the node applied (0 for none)
 * @param demoted  keys the node wrote to its SSD tier as asked ({@link IndexUpdate.Kind#DEMOTE})
 * @param loaded   keys the node loaded from SSD into the DRAM range a reader was given
 * @param ssdGone  keys its SSD tier no longer holds (its own eviction, a failed write or a
 *                 corrupt read)
 */
public record NodeReport(long ackedSeq, long[] demoted, long[] loaded, long[] ssdGone) {
    private static final long[] NONE = new long[0];

    /** Only an acknowledgement. */
    public static NodeReport ack(long ackedSeq) {
        return new NodeReport(ackedSeq, NONE, NONE, NONE);
    }
}
