package dev.ferry.store.master;

import dev.ferry.store.rpc.RpcException;
import java.util.function.Supplier;

/**
 * The one place where a {@link MasterException} becomes the {@link RpcException} that the
 * master's callers see (a remote one through {@link MasterService}, a local one through
 * {@link InProcessMaster}): REFUSED, NO_SPACE, BUSY, CONFLICT and STALE_PUT keep their names and the message.
 */
final class MasterErrors {
    private MasterErrors() {
    }

    /** The RPC error a caller gets for {@code e}; {@code e} is its cause. */
    static RpcException toRpc(MasterException e) {
        int status = switch (e.reason()) {
            case REFUSED -> RpcException.REFUSED;
            case NO_SPACE -> RpcException.NO_SPACE;
            case BUSY -> RpcException.BUSY;
            case CONFLICT -> RpcException.CONFLICT;
            case STALE_PUT -> RpcException.STALE_PUT;
        };
        return new RpcException(status, e.getMessage(), e);
    }

    /** Runs {@code call} on the master; its {@link MasterException} comes out as {@link #toRpc}. */
    static <T> T call(Supplier<T> call) {
        try {
            return call.get();
        } catch (MasterException e) {
            throw toRpc(e);
        }
    }

    /** As {@link #call(Supplier)}, for a call that returns nothing. */
    static void run(Runnable call) {
        try {
            call.run();
        } catch (MasterException e) {
            throw toRpc(e);
        }
    }
}
