package dev.ferry.store.master;

/**
 * Why the {@link Master} refused a call. The master's logic knows nothing of RPC: its
 * adapters ({@link MasterService} for remote callers, {@link InProcessMaster} for a master
 * in the caller's process) answer each {@link Reason} as the
 * {@link dev.ferry.store.rpc.RpcException} status of the same name, with the same message.
 */
public final class MasterException extends RuntimeException {
    /** What went wrong. */
    public enum Reason {
        /** The caller's input is wrong (bad argument, unknown node, segment owned by another node). */
        REFUSED,
        /** The store has no room for the block, even after evicting what it could. */
        NO_SPACE,
        /** DRAM is full while blocks are being demoted to SSD: ask again shortly. */
        BUSY,
        /** The call names state this master does not hold (a commit for a put it never started). */
        CONFLICT,
        /** A commit for a put that a former leader started (an older epoch): nothing is published. */
        STALE_PUT
    }

    private final Reason reason;

    public MasterException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    /** What went wrong. */
    public Reason reason() {
        return reason;
    }
}
