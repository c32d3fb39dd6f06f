/**
 * Slices: the unit the engine moves, how a request is cut into them, which way they go
 * ({@link dev.ferry.transfer.slice.Opcode}), why one fails
 * ({@link dev.ferry.transfer.slice.TransferException}) and the link one failed on
 * ({@link dev.ferry.transfer.slice.LinkId}). Uses no other package of the engine but
 * {@code segment}.
 */
package dev.ferry.transfer.slice;
