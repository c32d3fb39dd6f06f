package dev.ferry.store.node;

import dev.ferry.store.master.IndexUpdate;
import java.util.List;
import java.util.function.LongFunction;

/**
 * The index of this process's store node, as a commit sees it ({@link StoreNode#commitIndex()}):
 * a writer in the same process (a sidecar) commits through it, so that the master's answer
 * carries the node's pending index updates and the master waits only for the other holders.
 *
 * <p>Implementations are thread-safe.
 */
public interface CommitIndex {
    /** The node's id at the master. */
    String nodeId();

    /**
     * Calls {@code commit} with the newest index update the node applied and applies the
     * updates it returns to the node's index before returning; no re-registration of the
     * node runs in between.
     *
     * @throws RuntimeException what {@code commit} throws (nothing is applied then)
     */
    void commit(LongFunction<List<IndexUpdate>> commit);

    /**
     * Runs {@code work} while the node stays registered as it is: no registration with the
     * master starts before {@code work} returns (one that runs waits for it), so that memory
     * the master granted the node under this registration may be written meanwhile; a new
     * registration (a restarted master, a new leader) would hand that memory to others.
     * {@link #commit} may be called within.
     *
     * @param work given the node's registration count ({@link StoreNode#registrations()}): it
     *             differs from an earlier one when the node registered again in between
     */
    <T> T whileRegistered(LongFunction<T> work);
}
