/**
 * The shared-memory transport between processes of one host: the target's segment is a file
 * (normally under {@code /dev/shm}) that the initiator maps, so a READ or a WRITE is one
 * copy in the initiator, with no work at the target.
 */
package dev.ferry.transfer.transport.shm;
