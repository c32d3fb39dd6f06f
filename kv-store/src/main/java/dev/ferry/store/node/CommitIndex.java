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
}
