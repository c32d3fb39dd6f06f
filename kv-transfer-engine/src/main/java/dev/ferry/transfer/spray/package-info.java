/** Spraying: which link each slice goes to. */
package dev.ferry.transfer.spray;
