package dev.ferry.store.master;

/**
 * A change to the blocks of one node's segment, which the master sends the node in its
 * heartbeat answers so that the node's local index follows what is committed there.
 *
 * @param seq   sequence number, from 1 after each registration, per node
 * @param added true: {@code block} was committed in the node's segment; false: the block of
 *              {@code block.key()} left it (evicted or removed), the other fields unused
 * @param block the block
 */
public record IndexUpdate(long seq, boolean added, IndexedBlock block) {
}
