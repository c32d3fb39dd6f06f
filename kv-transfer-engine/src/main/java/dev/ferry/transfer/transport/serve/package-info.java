/**
 * The serving side that every network transport shares: a request's segment resolved into a
 * handle, its range checked, its body's CRC32C checked, notifications handed over, and the
 * answer chosen; each transport only moves the bytes and writes the answers in its framing.
 */
package dev.ferry.transfer.transport.serve;
