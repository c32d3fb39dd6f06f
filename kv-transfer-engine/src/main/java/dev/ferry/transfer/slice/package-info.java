/** Slices: the unit the engine moves, and how a request is cut into them. */
package dev.ferry.transfer.slice;
