/** Segments: memory a node registers with the transfer engine, and how peers find it. */
package dev.ferry.transfer.segment;
