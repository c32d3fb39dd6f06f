package dev.ferry.store.master;

import dev.ferry.store.block.BlockKey;
import dev.ferry.store.tier.SsdHealth;
import java.util.Objects;

/**
 * What a store node tells the master in a heartbeat.
 *
 * @param ackedSeq the last {@link IndexUpdate} the node applied (0 for none)
 * @param demoted  keys the node wrote to its SSD tier as asked ({@link IndexUpdate.Kind#DEMOTE})
 * @param loaded   keys the node loaded from SSD into the DRAM range a reader was given
 * @param ssdGone  keys its SSD tier no longer holds (its own eviction, a failed write or a
 *                 corrupt read)
 * @param ssd      whether its SSD tier takes writes now ({@link SsdHealth#OK} for a node
 *                 without one): outside {@link SsdHealth#OK} the master demotes nothing there
 *                 and evicts instead
 */
public record NodeReport(long ackedSeq, BlockKey[] demoted, BlockKey[] loaded, BlockKey[] ssdGone, SsdHealth ssd) {
    private static final BlockKey[] NONE = new BlockKey[0];

    public NodeReport {
        Objects.requireNonNull(ssd, "ssd");
    }

    /** A report of a node whose SSD tier (if any) takes writes. */
    public NodeReport(long ackedSeq, BlockKey[] demoted, BlockKey[] loaded, BlockKey[] ssdGone) {
        this(ackedSeq, demoted, loaded, ssdGone, SsdHealth.OK);
    }

    /** Only an acknowledgement. */
    public static NodeReport ack(long ackedSeq) {
        return new NodeReport(ackedSeq, NONE, NONE, NONE);
    }

    /** The same report with the SSD tier's state of now. */
    public NodeReport withSsd(SsdHealth now) {
        return now == ssd ? this : new NodeReport(ackedSeq, demoted, loaded, ssdGone, now);
    }
}
